// Images of the ingest worker and the dashboard; pulled with managed identities (no admin user).
param name string
param location string
param tags object

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  //checkov:skip=CKV_AZURE_139:images are built by ACR tasks from the deployment pipeline; pulls use managed identities, admin user disabled
  name: take(toLower(replace(name, '-', '')), 50)
  location: location
  //checkov:skip=CKV_AZURE_166:image quarantine needs the Premium SKU; two first-party images built from this repository
  tags: tags
  sku: { name: 'Standard' }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

output name string = registry.name
output loginServer string = registry.properties.loginServer
