using '../main.bicep'

param environmentName = 'prod'
param location = 'australiaeast'
param sqlAdminGroupObjectId = readEnvironmentVariable('CAL_SQL_ADMIN_GROUP_ID')
param sqlAdminGroupName = readEnvironmentVariable('CAL_SQL_ADMIN_GROUP_NAME', 'chargeatlarge-sql-admins')
param dashboardAuthClientId = readEnvironmentVariable('CAL_DASHBOARD_CLIENT_ID')
param imageTag = readEnvironmentVariable('CAL_IMAGE_TAG', 'latest')
param workerMinReplicas = 2
