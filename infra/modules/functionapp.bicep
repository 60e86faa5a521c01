// The monthly job on the Flex Consumption plan: Linux, Python 3.11, billed per run (it runs
// once a month, plus manual re-runs), up to 4 GB per instance for a national month, and
// identity-based access to its own storage, so no storage key is ever configured.
param name string
param location string
param tags object
param storageAccountName string
param deploymentContainerName string
param identityId string
param identityClientId string
param appInsightsConnectionString string
param blobAccountUrl string
param databaseUrl string
param reportTimeZone string
param monthlySchedule string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225:Flex Consumption has no zone-redundant option to set here; a monthly job can be re-run after an outage
  name: '${name}-plan'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_222:the HTTP re-run trigger is called from outside; it needs a function key (auth level FUNCTION)
  name: name
  //checkov:skip=CKV_AZURE_17:callers authenticate with function keys over HTTPS; client certificates are not used
  location: location
  //checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero by design; the job runs once a month
  tags: tags
  //checkov:skip=CKV_AZURE_213:a Function App on Flex Consumption has no always-on instance to probe; failures show in Application Insights
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobAccountUrl}${deploymentContainerName}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      runtime: { name: 'python', version: '3.11' }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 4096 }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        { name: 'AZURE_CLIENT_ID', value: identityClientId }
        { name: 'MONTHLY_SCHEDULE', value: monthlySchedule }
        { name: 'CAL_BLOB_ACCOUNT_URL', value: blobAccountUrl }
        { name: 'CAL_BLOB_CONTAINER', value: 'chargeatlarge' }
        { name: 'CAL_DATABASE_URL', value: databaseUrl }
        { name: 'CAL_REPORT_TZ', value: reportTimeZone }
        { name: 'CAL_DATA_DIR', value: '/tmp/chargeatlarge' }
      ]
    }
  }
}

output name string = site.name
