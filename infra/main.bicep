// Charge@Large on Azure: storage, Azure SQL, the monthly Function App, the ingest worker and
// the dashboard on Container Apps, Key Vault for CPO credentials, monitoring, and managed
// identities with least-privilege role assignments (no account keys or SQL passwords).
targetScope = 'resourceGroup'

@description('Short environment name, part of every resource name (dev, prod).')
@maxLength(8)
param environmentName string

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Object id of the Microsoft Entra group that administers Azure SQL.')
param sqlAdminGroupObjectId string

@description('Display name of that Entra group.')
param sqlAdminGroupName string

@description('Container image tag to run for the worker and the dashboard (set by deploy.sh).')
param imageTag string = 'latest'

@description('Client id of the Entra app registration that signs users in to the dashboard.')
param dashboardAuthClientId string

@description('Report time zone (CAL_REPORT_TZ).')
param reportTimeZone string = 'Australia/Sydney'

@description('NCRONTAB schedule of the monthly job, in UTC: 03:00 on the 2nd is 13:00-14:00 in Sydney, a day after local month end.')
param monthlySchedule string = '0 0 3 2 * *'

@description('CPO feed secrets: [{ envName: token_env of FEEDS.toml, secretName: Key Vault secret }].')
param cpoSecrets array = []

@description('False for the first pass of deploy.sh: everything but the apps, so the registry exists before images are built.')
param deployApps bool = true

@description('Minimum replicas of the ingest worker; CPO feeds must always find it.')
@minValue(1)
param workerMinReplicas int = 2

@description('Maximum replicas of the ingest worker (stateless: it hands every batch to the queue).')
@minValue(2)
param workerMaxReplicas int = 6

var suffix = uniqueString(resourceGroup().id, environmentName)
var name = 'cal${environmentName}'
var tags = {
  project: 'chargeatlarge'
  environment: environmentName
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: { name: name, location: location, tags: tags }
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  params: { name: name, location: location, tags: tags }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: { name: '${name}${suffix}', location: location, tags: tags }
}

module sql 'modules/sql.bicep' = {
  name: 'sql'
  params: {
    name: '${name}-${suffix}'
    location: location
    tags: tags
    adminGroupObjectId: sqlAdminGroupObjectId
    adminGroupName: sqlAdminGroupName
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: { name: 'kv${name}${take(suffix, 8)}', location: location, tags: tags }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  params: { name: 'acr${name}${suffix}', location: location, tags: tags }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    storageAccountName: storage.outputs.accountName
    keyVaultName: keyVault.outputs.name
    registryName: registry.outputs.name
    workerPrincipalId: identities.outputs.workerPrincipalId
    writerPrincipalId: identities.outputs.writerPrincipalId
    queueName: storage.outputs.queueName
    poisonQueueName: storage.outputs.poisonQueueName
    dashboardPrincipalId: identities.outputs.dashboardPrincipalId
    functionPrincipalId: identities.outputs.functionPrincipalId
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

var databaseUrl = 'mssql+pyodbc://@${sql.outputs.serverFqdn}:1433/${sql.outputs.databaseName}?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=yes&authentication=ActiveDirectoryMsi'

module containers 'modules/containerapps.bicep' = if (deployApps) {
  name: 'containers'
  params: {
    name: name
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    registryServer: registry.outputs.loginServer
    imageTag: imageTag
    workerIdentityId: identities.outputs.workerId
    workerClientId: identities.outputs.workerClientId
    writerIdentityId: identities.outputs.writerId
    writerClientId: identities.outputs.writerClientId
    dashboardIdentityId: identities.outputs.dashboardId
    dashboardClientId: identities.outputs.dashboardClientId
    blobAccountUrl: storage.outputs.blobEndpoint
    databaseUrlForWorker: '${databaseUrl}&UID=${identities.outputs.workerClientId}'
    databaseUrlForWriter: '${databaseUrl}&UID=${identities.outputs.writerClientId}'
    queueName: storage.outputs.queueName
    databaseUrlForDashboard: '${databaseUrl}&UID=${identities.outputs.dashboardClientId}'
    keyVaultUri: keyVault.outputs.uri
    dashboardAuthClientId: dashboardAuthClientId
    reportTimeZone: reportTimeZone
    workerMinReplicas: workerMinReplicas
    workerMaxReplicas: workerMaxReplicas
    cpoSecrets: cpoSecrets
  }
  dependsOn: [roles]
}

module functionApp 'modules/functionapp.bicep' = if (deployApps) {
  name: 'functionapp'
  params: {
    name: '${name}-monthly-${suffix}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.accountName
    deploymentContainerName: storage.outputs.deploymentContainerName
    identityId: identities.outputs.functionId
    identityClientId: identities.outputs.functionClientId
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    blobAccountUrl: storage.outputs.blobEndpoint
    databaseUrl: '${databaseUrl}&UID=${identities.outputs.functionClientId}'
    reportTimeZone: reportTimeZone
    monthlySchedule: monthlySchedule
  }
  dependsOn: [roles]
}

output workerUrl string = deployApps ? containers.outputs.workerUrl : ''
output dashboardUrl string = deployApps ? containers.outputs.dashboardUrl : ''
output functionAppName string = deployApps ? functionApp.outputs.name : ''
output registryLoginServer string = registry.outputs.loginServer
output sqlServerFqdn string = sql.outputs.serverFqdn
output sqlDatabaseName string = sql.outputs.databaseName
output keyVaultName string = keyVault.outputs.name
output identityNames object = identities.outputs.names
