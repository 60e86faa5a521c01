"""Azure Functions (Python v2 model): the monthly job's triggers. Logic lives in shared.monthly."""

import json
import logging

import azure.functions as func

from shared.metrics.period import InvalidMonth
from shared.monthly.job import MonthNotReady
from shared.monthly.run import run_month_with_settings, run_previous_month
from shared.settings import get_settings

app = func.FunctionApp()


# MONTHLY_SCHEDULE is an app setting (NCRONTAB, UTC). Production: "0 0 3 2 * *", 03:00 UTC on the
# 2nd, which is 13:00-14:00 on the 2nd in Sydney: more than a day after local month end in every
# Australian zone, so late and re-sent observations of the last day have arrived.
@app.timer_trigger(
    schedule="%MONTHLY_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True
)
def monthly_timer(timer: func.TimerRequest) -> None:
    if timer.past_due:
        logging.warning("monthly timer is past due; running the previous month now")
    result = run_previous_month(get_settings())
    logging.info("monthly job wrote %s (%s)", result.prefix, result.row_counts)


@app.route(route="monthly", methods=["POST", "GET"], auth_level=func.AuthLevel.FUNCTION)
def monthly_rerun(req: func.HttpRequest) -> func.HttpResponse:
    month = req.params.get("month", "")
    try:
        result = run_month_with_settings(month, get_settings())
    except (InvalidMonth, MonthNotReady) as exc:
        return _json({"error": str(exc)}, 400)
    body = {
        "month": result.month,
        "processed": result.prefix,
        "report": f"{result.report_prefix}/report.html",
        "row_counts": result.row_counts,
        "warnings": result.warnings,
    }
    return _json(body, 200)


def _json(body: dict, status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")
