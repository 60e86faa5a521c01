// The ingest worker (public HTTPS/WSS for CPO feeds), the writer that drains its queue into
// SQL, and the dashboard (behind Container Apps authentication with Microsoft Entra ID;
// anonymous visitors see the live map only).
param name string
param location string
param tags object
param logAnalyticsWorkspaceId string
param appInsightsConnectionString string
param registryServer string
param imageTag string
param workerIdentityId string
param workerClientId string
param writerIdentityId string
param writerClientId string
param dashboardIdentityId string
param dashboardClientId string
param blobAccountUrl string
param databaseUrlForWorker string
param databaseUrlForWriter string
param queueName string
param databaseUrlForDashboard string
param keyVaultUri string
param dashboardAuthClientId string
param reportTimeZone string
param workerMinReplicas int
param workerMaxReplicas int

@description('CPO secrets: env var name (token_env in FEEDS.toml) → Key Vault secret name.')
param cpoSecrets array = []

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: last(split(logAnalyticsWorkspaceId, '/'))
}

resource managedEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${name}-env'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    zoneRedundant: false
  }
}

var common = [
  { name: 'CAL_BLOB_ACCOUNT_URL', value: blobAccountUrl }
  { name: 'CAL_BLOB_CONTAINER', value: 'chargeatlarge' }
  { name: 'CAL_REPORT_TZ', value: reportTimeZone }
  { name: 'CAL_DATA_DIR', value: '/data' }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
]

var cpoSecretRefs = [for s in cpoSecrets: { name: toLower(s.secretName), keyVaultUrl: '${keyVaultUri}secrets/${s.secretName}', identity: workerIdentityId }]
var writerCpoSecretRefs = [for s in cpoSecrets: { name: toLower(s.secretName), keyVaultUrl: '${keyVaultUri}secrets/${s.secretName}', identity: writerIdentityId }]
var cpoSecretEnv = [for s in cpoSecrets: { name: s.envName, secretRef: toLower(s.secretName) }]

var feedsSecret = {
  name: 'feeds-toml'
  keyVaultUrl: '${keyVaultUri}secrets/feeds-toml'
  identity: workerIdentityId
}
// The operations pages (/feeds, /metrics/latency, /docs) of this externally reachable worker
// open only with this token; the Key Vault secret is created once (infra/README.md).
var operatorSecret = {
  name: 'worker-operator-token'
  keyVaultUrl: '${keyVaultUri}secrets/worker-operator-token'
  identity: workerIdentityId
}
// The key that encrypts stored OCPI tokens B: the same in every replica and in the writer.
var secretKey = {
  name: 'cal-secret-key'
  keyVaultUrl: '${keyVaultUri}secrets/cal-secret-key'
  identity: workerIdentityId
}
var workerSecrets = concat([feedsSecret, operatorSecret, secretKey], cpoSecretRefs)
// CAL_HANDOFF=queue: a replica acknowledges a feed once its batch is in the queue, so replicas
// keep nothing on their disks and any number of them may run.
var handoffEnv = [
  { name: 'CAL_HANDOFF', value: 'queue' }
  { name: 'CAL_QUEUE_NAME', value: queueName }
  { name: 'CAL_SECRET_KEY', secretRef: 'cal-secret-key' }
]
var workerOwnEnv = [
  { name: 'CAL_DATABASE_URL', value: databaseUrlForWorker }
  { name: 'AZURE_CLIENT_ID', value: workerClientId }
  { name: 'CAL_OPERATOR_TOKEN', secretRef: 'worker-operator-token' }
  // What OCPI URLs handed to CPOs start with: the worker app's own ingress address
  // (<app name>.<environment default domain>), never a request's Host header.
  { name: 'CAL_PUBLIC_URL', value: 'https://${name}-worker.${managedEnvironment.properties.defaultDomain}' }
]
var workerEnv = concat(common, handoffEnv, workerOwnEnv, cpoSecretEnv)
var writerFeedsSecret = {
  name: 'feeds-toml'
  keyVaultUrl: '${keyVaultUri}secrets/feeds-toml'
  identity: writerIdentityId
}
var writerSecretKey = {
  name: 'cal-secret-key'
  keyVaultUrl: '${keyVaultUri}secrets/cal-secret-key'
  identity: writerIdentityId
}
var writerSecrets = concat([writerFeedsSecret, writerSecretKey], writerCpoSecretRefs)
var writerOwnEnv = [
  { name: 'CAL_DATABASE_URL', value: databaseUrlForWriter }
  { name: 'AZURE_CLIENT_ID', value: writerClientId }
]
var writerEnv = concat(common, handoffEnv, writerOwnEnv, cpoSecretEnv)
var dashboardOwnEnv = [
  { name: 'CAL_DATABASE_URL', value: databaseUrlForDashboard }
  { name: 'CAL_BEHIND_AZURE_AUTH', value: 'true' }
  { name: 'AZURE_CLIENT_ID', value: dashboardClientId }
]
var dashboardEnv = concat(common, dashboardOwnEnv)

resource worker 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${name}-worker'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${workerIdentityId}': {} }
  }
  properties: {
    managedEnvironmentId: managedEnvironment.id
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: 8080
        transport: 'auto' // HTTP/1.1 upgrades for OCPP and WebSocket feeds
        allowInsecure: false
      }
      registries: [
        {
          server: registryServer
          identity: workerIdentityId
        }
      ]
      secrets: workerSecrets
    }
    template: {
      containers: [
        {
          name: 'worker'
          image: '${registryServer}/chargeatlarge-worker:${imageTag}'
          args: [
            'worker'
            '--feeds'
            '/config/feeds.toml'
            '--host'
            '0.0.0.0'
            '--port'
            '8080'
          ]
          env: workerEnv
          resources: { cpu: json('1.0'), memory: '2Gi' }
          probes: [
            {
              type: 'Liveness'
              httpGet: {
                path: '/livez'
                port: 8080
              }
              periodSeconds: 30
              failureThreshold: 5
            }
          ]
          volumeMounts: [
            { volumeName: 'config', mountPath: '/config' }
          ]
        }
      ]
      volumes: [
        {
          name: 'config'
          storageType: 'Secret'
          secrets: [
            {
              secretRef: 'feeds-toml'
              path: 'feeds.toml'
            }
          ]
        }
      ]
      // Stateless replicas (no spool volume): OCPP and WebSocket sessions spread over them.
      scale: {
        minReplicas: workerMinReplicas
        maxReplicas: workerMaxReplicas
        rules: [
          {
            name: 'http'
            http: { metadata: { concurrentRequests: '50' } }
          }
        ]
      }
    }
  }
}

// Drains the queue into SQL, keeps the live snapshot and feed health, and runs the OCPI pollers
// (so each feed is polled once). One at a time: it holds a lease on the blob leases/writer, so
// the overlap of two revisions during a deploy still has one writer. No ingress.
resource writer 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${name}-writer'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${writerIdentityId}': {} }
  }
  properties: {
    managedEnvironmentId: managedEnvironment.id
    configuration: {
      activeRevisionsMode: 'Single'
      registries: [
        {
          server: registryServer
          identity: writerIdentityId
        }
      ]
      secrets: writerSecrets
    }
    template: {
      containers: [
        {
          name: 'writer'
          image: '${registryServer}/chargeatlarge-worker:${imageTag}'
          args: [
            'writer'
            '--feeds'
            '/config/feeds.toml'
          ]
          env: writerEnv
          resources: { cpu: json('1.0'), memory: '2Gi' }
          volumeMounts: [
            { volumeName: 'config', mountPath: '/config' }
          ]
        }
      ]
      volumes: [
        {
          name: 'config'
          storageType: 'Secret'
          secrets: [
            {
              secretRef: 'feeds-toml'
              path: 'feeds.toml'
            }
          ]
        }
      ]
      scale: { minReplicas: 1, maxReplicas: 1 }
    }
  }
}

resource dashboard 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${name}-dashboard'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${dashboardIdentityId}': {} }
  }
  properties: {
    managedEnvironmentId: managedEnvironment.id
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: 8000
        transport: 'auto'
        allowInsecure: false
        stickySessions: { affinity: 'sticky' } // Shiny sessions live in one replica
      }
      registries: [
        {
          server: registryServer
          identity: dashboardIdentityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'dashboard'
          image: '${registryServer}/chargeatlarge-dashboard:${imageTag}'
          args: [
            'app'
            '--host'
            '0.0.0.0'
            '--port'
            '8000'
          ]
          env: dashboardEnv
          resources: { cpu: json('1.0'), memory: '2Gi' }
        }
      ]
      scale: { minReplicas: 1, maxReplicas: 3 }
    }
  }
}

resource dashboardAuth 'Microsoft.App/containerApps/authConfigs@2024-03-01' = {
  parent: dashboard
  name: 'current'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      // The public may see the live map; the app shows figures only to analyst/government roles.
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: dashboardAuthClientId
          clientSecretSettingName: 'microsoft-provider-authentication-secret'
          openIdIssuer: '${environment().authentication.loginEndpoint}${subscription().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${dashboardAuthClientId}'
          ]
        }
      }
    }
    login: { preserveUrlFragmentsForLogins: true }
  }
}

output workerUrl string = 'https://${worker.properties.configuration.ingress.fqdn}'
output dashboardUrl string = 'https://${dashboard.properties.configuration.ingress.fqdn}'
