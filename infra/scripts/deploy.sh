#!/usr/bin/env bash
# Deploy Charge@Large to one environment: infrastructure, images, the Function App, the schema.
#   infra/scripts/deploy.sh dev|prod
# Needs: az (logged in, subscription selected), CAL_RESOURCE_GROUP, CAL_SQL_ADMIN_GROUP_ID,
# CAL_DASHBOARD_CLIENT_ID; optional CAL_IMAGE_TAG (default: the git commit).
set -euo pipefail
env_name="${1:?usage: deploy.sh dev|prod}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
: "${CAL_RESOURCE_GROUP:?set CAL_RESOURCE_GROUP}"
export CAL_IMAGE_TAG="${CAL_IMAGE_TAG:-$(git -C "$root" rev-parse --short HEAD)}"

echo "1/5 infrastructure without the apps (registry, storage, SQL, Key Vault, identities)"
outputs=$(az deployment group create --resource-group "$CAL_RESOURCE_GROUP" \
  --template-file "$root/infra/main.bicep" --parameters "$root/infra/parameters/$env_name.bicepparam" \
  --parameters deployApps=false --query properties.outputs --output json)
value() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1']['value'])" <<<"$outputs"; }
registry=$(value registryLoginServer)

echo "2/5 images in $registry"
az acr build --registry "${registry%%.*}" --image "chargeatlarge-worker:$CAL_IMAGE_TAG" \
  --file "$root/infra/docker/worker.Dockerfile" "$root"
az acr build --registry "${registry%%.*}" --image "chargeatlarge-dashboard:$CAL_IMAGE_TAG" \
  --file "$root/infra/docker/app.Dockerfile" "$root"

echo "3/5 container apps and the Function App on the new images"
outputs=$(az deployment group create --resource-group "$CAL_RESOURCE_GROUP" \
  --template-file "$root/infra/main.bicep" --parameters "$root/infra/parameters/$env_name.bicepparam" \
  --query properties.outputs --output json)

function_app=$(value functionAppName)
echo "4/5 function app $function_app"
python3 "$root/infra/scripts/package_function.py" --out "$root/dist/function_app.zip"
az functionapp deployment source config-zip --resource-group "$CAL_RESOURCE_GROUP" \
  --name "$function_app" --src "$root/dist/function_app.zip" --build-remote true

echo "5/5 database schema (Alembic) as the signed-in Entra admin (az login credentials)"
# The deployer's address must be allowed for the migration; removed again afterwards.
my_ip=$(curl -fsS https://api.ipify.org)
sql_server=$(value sqlServerFqdn); sql_server=${sql_server%%.*}
az sql server firewall-rule create --resource-group "$CAL_RESOURCE_GROUP" --server "$sql_server" \
  --name deploy-migration --start-ip-address "$my_ip" --end-ip-address "$my_ip" --output none
trap 'az sql server firewall-rule delete --resource-group "$CAL_RESOURCE_GROUP" --server "$sql_server" --name deploy-migration --output none' EXIT
sql_url="mssql+pyodbc://@$(value sqlServerFqdn):1433/$(value sqlDatabaseName)?driver=ODBC+Driver+18+for+SQL+Server&Encrypt=yes&entra_token=1"
CAL_DATABASE_URL="$sql_url" "$root/.venv/bin/chargeatlarge" db upgrade

echo "done: worker $(value workerUrl), dashboard $(value dashboardUrl)"
