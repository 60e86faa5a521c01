// One user-assigned identity per deployable part, so each gets only the roles it needs.
param name string
param location string
param tags object

resource worker 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-worker-id'
  location: location
  tags: tags
}

// CAL_HANDOFF=queue: the writer drains the queue into SQL (the ingest replicas only enqueue).
resource writer 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-writer-id'
  location: location
  tags: tags
}

resource dashboard 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-dashboard-id'
  location: location
  tags: tags
}

resource function 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-monthly-id'
  location: location
  tags: tags
}

output workerId string = worker.id
output workerPrincipalId string = worker.properties.principalId
output workerClientId string = worker.properties.clientId
output writerId string = writer.id
output writerPrincipalId string = writer.properties.principalId
output writerClientId string = writer.properties.clientId
output dashboardId string = dashboard.id
output dashboardPrincipalId string = dashboard.properties.principalId
output dashboardClientId string = dashboard.properties.clientId
output functionId string = function.id
output functionPrincipalId string = function.properties.principalId
output functionClientId string = function.properties.clientId
output names object = {
  worker: worker.name
  writer: writer.name
  dashboard: dashboard.name
  monthly: function.name
}
