// The blob store of every part: static sites, raw archive, live snapshot, processed months,
// published reports. Entra ID only: no shared keys, no anonymous access.
param name string
param location string
param tags object

@description('CAL_QUEUE_NAME: the queue between the ingest replicas and the writer (its poison queue is NAME-poison).')
param queueName string = 'observations'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_43:the name is computed (lower case, no dashes, at most 24 characters), which the check cannot evaluate
  name: take(toLower(replace(name, '-', '')), 24)
  //checkov:skip=CKV_AZURE_59:the containers and the Flex Consumption plan reach it without a VNet in this design; access is Entra-only, no shared keys, no anonymous blobs
  location: location
  //checkov:skip=CKV_AZURE_35:see CKV_AZURE_59: identity-based access only, no account keys exist to leak
  tags: tags
  kind: 'StorageV2'
  //checkov:skip=CKV_AZURE_206:zone-redundant storage (Standard_ZRS) is the replication chosen
  sku: { name: 'Standard_ZRS' }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true, keyType: 'Account' }
        file: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 30 }
    containerDeleteRetentionPolicy: { enabled: true, days: 30 }
    isVersioningEnabled: true
  }
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'chargeatlarge'
  properties: { publicAccess: 'None' }
}

resource deployments 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'function-deployments'
  properties: { publicAccess: 'None' }
}

// CAL_HANDOFF=queue: ingest replicas enqueue, the writer drains; what fails again and again
// goes to the poison queue with its reason.
resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: queueName
}

resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: '${queueName}-poison'
}

// Claim checks of records too big for one message, deleted by the writer after their commit;
// what a crash left behind goes after two weeks.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'handoff-claim-checks'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: { blobTypes: ['blockBlob'], prefixMatch: ['chargeatlarge/handoff/'] }
            actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: 14 } } }
          }
        }
      ]
    }
  }
}

output accountName string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output deploymentContainerName string = deployments.name
output queueName string = queue.name
output poisonQueueName string = poisonQueue.name
