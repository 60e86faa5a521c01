// Azure SQL with Microsoft Entra-only authentication: no SQL logins or passwords exist.
param name string
param location string
param tags object
param adminGroupObjectId string
param adminGroupName string

@description('Addresses that receive SQL threat-detection alerts.')
param alertEmails array = []

resource server 'Microsoft.Sql/servers@2023-08-01-preview' = {
  //checkov:skip=CKV_AZURE_113:the containers and the Function App connect through the AllowAzureServices rule without a VNet in this design; Entra-only authentication
  name: name
  location: location
  tags: tags
  properties: {
    minimalTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    administrators: {
      administratorType: 'ActiveDirectory'
      azureADOnlyAuthentication: true
      login: adminGroupName
      sid: adminGroupObjectId
      principalType: 'Group'
      tenantId: subscription().tenantId
    }
  }
}

resource auditing 'Microsoft.Sql/servers/auditingSettings@2023-08-01-preview' = {
  parent: server
  name: 'default'
  properties: {
    state: 'Enabled'
    isAzureMonitorTargetEnabled: true
    retentionDays: 120
  }
}

resource threatDetection 'Microsoft.Sql/servers/securityAlertPolicies@2023-08-01-preview' = {
  parent: server
  name: 'Default'
  properties: {
    state: 'Enabled'
    emailAccountAdmins: true
    emailAddresses: alertEmails
    disabledAlerts: []
  }
}

resource azureServices 'Microsoft.Sql/servers/firewallRules@2023-08-01-preview' = {
  parent: server
  name: 'AllowAzureServices'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

resource database 'Microsoft.Sql/servers/databases@2023-08-01-preview' = {
  //checkov:skip=CKV_AZURE_229:serverless General Purpose without zone redundancy; backups are zone-redundant and the monthly job can wait for a restore
  parent: server
  name: 'chargeatlarge'
  location: location
  //checkov:skip=CKV_AZURE_26:alert recipients are set at the server (securityAlertPolicies.emailAddresses)
  tags: tags
  //checkov:skip=CKV_AZURE_27:emailAccountAdmins is enabled at the server (securityAlertPolicies)
  sku: { name: 'GP_S_Gen5', tier: 'GeneralPurpose', family: 'Gen5', capacity: 2 }
  properties: {
    autoPauseDelay: 60
    minCapacity: json('0.5')
    zoneRedundant: false
    requestedBackupStorageRedundancy: 'Zone'
  }
}

resource databaseAuditing 'Microsoft.Sql/servers/databases/auditingSettings@2023-08-01-preview' = {
  parent: database
  name: 'default'
  properties: {
    state: 'Enabled'
    isAzureMonitorTargetEnabled: true
    retentionDays: 120
  }
}

resource databaseThreatDetection 'Microsoft.Sql/servers/databases/securityAlertPolicies@2023-08-01-preview' = {
  parent: database
  name: 'Default'
  properties: {
    state: 'Enabled'
    emailAccountAdmins: true
    emailAddresses: alertEmails
    disabledAlerts: []
  }
}

output serverFqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
