// The ingest worker (public HTTPS/WSS for CPO feeds) and the dashboard (behind Container Apps
// authentication with Microsoft Entra ID; anonymous visitors see the live map only).
param name string
param location string
param tags object
param logAnalyticsWorkspaceId string
param appInsightsConnectionString string
param registryServer string
param imageTag string
param workerIdentityId string
param workerClientId string
param dashboardIdentityId string
param dashboardClientId string
param blobAccountUrl string
param databaseUrlForWorker string
param databaseUrlForDashboard string
param keyVaultUri string
param dashboardAuthClientId string
param reportTimeZone string
param workerMinReplicas int

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
var workerSecrets = concat([feedsSecret, operatorSecret], cpoSecretRefs)
var workerOwnEnv = [
  { name: 'CAL_DATABASE_URL', value: databaseUrlForWorker }
  { name: 'AZURE_CLIENT_ID', value: workerClientId }
  { name: 'CAL_OPERATOR_TOKEN', secretRef: 'worker-operator-token' }
]
var workerEnv = concat(common, workerOwnEnv, cpoSecretEnv)
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
            { volumeName: 'spool', mountPath: '/data' }
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
        { name: 'spool', storageType: 'EmptyDir' }
      ]
      // One writer keeps the order of each CPO's observations; more replicas share nothing.
      scale: { minReplicas: workerMinReplicas, maxReplicas: 1 }
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
