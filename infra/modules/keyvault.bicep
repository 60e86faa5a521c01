// CPO credentials (the feed secrets named by token_env in FEEDS.toml), read by the worker only.
param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_189:Container Apps read secrets without a VNet in this design; access is RBAC only (Key Vault Secrets User for the worker)
  name: take(name, 24)
  //checkov:skip=CKV_AZURE_109:see CKV_AZURE_189
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
