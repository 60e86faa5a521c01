"""The answers of the OCPP feed, as the ``ocpp`` library's own routes: one ``ChargePoint``
subclass per version whose ``@on`` handlers are thin over the plain functions of
``ocpp_mapping``. The library routes each frame the session let through (see
``ocpp.Session.screen``), turns payloads into keyword arguments and ``call_result`` dataclasses
into answers, and sends them; a handler's ``OCPPError`` becomes the CallError.

Every route skips the library's schema validation: the session has already validated the call
with the library's own validators, with our error codes and wording (the library's validation
runs in a thread per message and answers 1.6 with 2.0.1's ``FormatViolation``). The answers are
checked against the official schemas by the interoperability tests, for every action of both
versions. The library logs every frame it receives and sends (payloads carry id tags) and every
error a route raises; ``LibraryLog`` is what it gets as its ``logger=``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import InternalError, OCPPError, PropertyConstraintViolationError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v16 import datatypes as types16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from ocpp.v201 import datatypes as types201
from ocpp.v201.enums import Action as Action201

from ingest_worker.feeds.ocpp_mapping import (
    check_number,
    observations_from_status_notification,
    observations_from_status_notification_201,
)

if TYPE_CHECKING:
    from ingest_worker.feeds.ocpp import Session

log = logging.getLogger("chargeatlarge.worker.ocpp")

NOT_A_CSMS = types201.StatusInfoType(
    reason_code="NotACSMS",
    additional_info="Charge@Large observes charger status only; send this to the CPO's CSMS",
)
# 1.6: "Identifier is unknown. Not allowed for charging."; 2.0.1: "Unknown"
UNKNOWN_16 = types16.IdTagInfo(status="Invalid")
UNKNOWN_201 = types201.IdTokenInfoType(status="Unknown")


class LibraryLog(logging.LoggerAdapter):
    """The ``ocpp`` library's ``logger=``: its per-frame records (every payload, at INFO) are
    not kept, nor its record of a CallError a route raised (the session has quarantined it with
    its reason); anything else it says goes to the feed's log."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:  # noqa: ANN401 - logging's own keywords
        text = str(msg)
        if text.startswith(("%s: receive message", "%s: send")):
            return
        if text.startswith("Error while handling request"):
            return  # a route only lets OCPPErrors out, each already quarantined
        super().log(level, msg, *args, **kwargs)

    def process(self, msg: object, kwargs: MutableMapping[str, Any]) -> tuple[object, Any]:
        return f"ocpp library: {msg}", kwargs


LIBRARY_LOG = LibraryLog(log, {})

Route = Callable[..., Awaitable[Any]]


def route(action: str) -> Callable[[Route], Route]:
    """``@on(action)`` for a handler that may raise ValueError (told to the charge point as
    PropertyConstraintViolation) or OCPPError; either is quarantined with the reason the charge
    point gets, and anything else is logged and answered InternalError: send it again. The
    library sends an error's ``code`` as it is: routes raise only codes both versions spell alike
    (the two that 1.6 spells its own way are for frames ``Session.screen`` refuses)."""

    def decorate(handler: Route) -> Route:
        async def answer(self: Observer, call_unique_id: str, **fields: Any) -> object:  # noqa: ANN401 - the library's payload fields
            try:
                return await handler(self, **fields)
            except (ValueError, OCPPError) as exc:
                error = (
                    exc
                    if isinstance(exc, OCPPError)
                    else PropertyConstraintViolationError(description=str(exc))
                )
                await self.session.refused(error, call_unique_id, action)
                raise error from None
            except Exception:  # logged: a bug, or a failed spool write the charge point resends
                log.exception(
                    "OCPP %s: %s %s not handled", self.session.feed.cpo_id, self.id, action
                )
                raise InternalError(description="not stored; send it again") from None

        # the library finds a route by this name and passes ``call_unique_id`` because the
        # signature (this function's, not the handler's) asks for it
        answer.__name__ = answer.__qualname__ = handler.__name__
        answer.__doc__ = handler.__doc__
        routed = on(action, skip_schema_validation=True)(answer)
        # The library inspects a route's signature on every call; with ``__signature__`` set,
        # inspect.signature returns it at once instead of rebuilding it (a third of its cost).
        routed.__signature__ = inspect.signature(routed)
        return routed

    return decorate


class Observer:
    """What both versions' routes share: the session they answer for."""

    session: Session
    id: str

    def now_text(self, instant: datetime | None = None) -> str:
        """An OCPP dateTime: ``instant``, by default now, in UTC with milliseconds."""
        instant = instant or self.session.received()
        return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Observer16(Observer, ChargePoint16):
    """OCPP 1.6J (edition 2, with the security extension): every charge-point-initiated action."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.id, session.connection, logger=LIBRARY_LOG)
        self.session = session

    @route(Action16.boot_notification)
    async def on_boot_notification(self, **_: object) -> result16.BootNotification:
        return result16.BootNotification(
            current_time=self.now_text(),
            interval=self.session.heartbeat_seconds,
            status="Accepted",
        )

    @route(Action16.heartbeat)
    async def on_heartbeat(self, **_: object) -> result16.Heartbeat:
        # the answer carries the instant the heartbeat confirmed the EVSEs at
        return result16.Heartbeat(current_time=self.now_text(await self.session.heartbeat()))

    @route(Action16.status_notification)
    async def on_status_notification(
        self, connector_id: int, status: str, timestamp: str | None = None, **_: object
    ) -> result16.StatusNotification:
        session = self.session
        await session.store(
            observations_from_status_notification(
                session.reporter(),
                session.statuses,
                connector_id=connector_id,
                status=status,
                timestamp=timestamp,
                received=session.received(),
            )
        )
        return result16.StatusNotification()

    @route(Action16.authorize)
    async def on_authorize(self, **_: object) -> result16.Authorize:
        return result16.Authorize(id_tag_info=UNKNOWN_16)

    @route(Action16.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, timestamp: str, **_: object
    ) -> result16.StartTransaction:
        number = check_number(connector_id, "connectorId", zero=False)
        await self.session.transaction_started(number, None, timestamp, Action16.start_transaction)
        return result16.StartTransaction(
            transaction_id=next(self.session.owner.transaction_ids), id_tag_info=UNKNOWN_16
        )

    @route(Action16.stop_transaction)
    async def on_stop_transaction(self, **_: object) -> result16.StopTransaction:
        return result16.StopTransaction()

    @route(Action16.meter_values)
    async def on_meter_values(self, **_: object) -> result16.MeterValues:
        return result16.MeterValues()

    @route(Action16.data_transfer)
    async def on_data_transfer(self, **_: object) -> result16.DataTransfer:
        return result16.DataTransfer(status="UnknownVendorId")

    @route(Action16.diagnostics_status_notification)
    async def on_diagnostics_status_notification(
        self, **_: object
    ) -> result16.DiagnosticsStatusNotification:
        return result16.DiagnosticsStatusNotification()

    @route(Action16.firmware_status_notification)
    async def on_firmware_status_notification(
        self, **_: object
    ) -> result16.FirmwareStatusNotification:
        return result16.FirmwareStatusNotification()

    @route(Action16.security_event_notification)
    async def on_security_event_notification(
        self, **_: object
    ) -> result16.SecurityEventNotification:
        return result16.SecurityEventNotification()

    @route(Action16.log_status_notification)
    async def on_log_status_notification(self, **_: object) -> result16.LogStatusNotification:
        return result16.LogStatusNotification()

    @route(Action16.signed_firmware_status_notification)
    async def on_signed_firmware_status_notification(
        self, **_: object
    ) -> result16.SignedFirmwareStatusNotification:
        return result16.SignedFirmwareStatusNotification()

    @route(Action16.sign_certificate)
    async def on_sign_certificate(self, **_: object) -> result16.SignCertificate:
        return result16.SignCertificate(status="Rejected")


class Observer201(Observer, ChargePoint201):
    """OCPP 2.0.1: every Charging Station → CSMS action of part 2."""

    def __init__(self, session: Session) -> None:
        super().__init__(session.id, session.connection, logger=LIBRARY_LOG)
        self.session = session

    @route(Action201.boot_notification)
    async def on_boot_notification(self, **_: object) -> result201.BootNotification:
        return result201.BootNotification(
            current_time=self.now_text(),
            interval=self.session.heartbeat_seconds,
            status="Accepted",
        )

    @route(Action201.heartbeat)
    async def on_heartbeat(self, **_: object) -> result201.Heartbeat:
        return result201.Heartbeat(current_time=self.now_text(await self.session.heartbeat()))

    @route(Action201.status_notification)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_: object
    ) -> result201.StatusNotification:
        session = self.session
        await session.store(
            observations_from_status_notification_201(
                session.reporter(),
                session.statuses,
                evse_id=evse_id,
                connector_id=connector_id,
                connector_status=connector_status,
                timestamp=timestamp,
                received=session.received(),
            )
        )
        return result201.StatusNotification()

    @route(Action201.authorize)
    async def on_authorize(self, **_: object) -> result201.Authorize:
        return result201.Authorize(id_token_info=UNKNOWN_201)

    @route(Action201.transaction_event)
    async def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        evse: dict[str, Any] | None = None,
        id_token: object = None,
        **_: object,
    ) -> result201.TransactionEvent:
        if event_type == "Started" and evse is not None:
            number = check_number(evse["id"], "evse.id", zero=False)
            await self.session.transaction_started(
                number, evse.get("connector_id"), timestamp, Action201.transaction_event
            )
        # id_token_info is required when an id token came, and must say: not allowed to charge
        return result201.TransactionEvent(id_token_info=None if id_token is None else UNKNOWN_201)

    @route(Action201.meter_values)
    async def on_meter_values(self, **_: object) -> result201.MeterValues:
        return result201.MeterValues()

    @route(Action201.notify_event)
    async def on_notify_event(self, **_: object) -> result201.NotifyEvent:
        return result201.NotifyEvent()

    @route(Action201.security_event_notification)
    async def on_security_event_notification(
        self, **_: object
    ) -> result201.SecurityEventNotification:
        return result201.SecurityEventNotification()

    @route(Action201.firmware_status_notification)
    async def on_firmware_status_notification(
        self, **_: object
    ) -> result201.FirmwareStatusNotification:
        return result201.FirmwareStatusNotification()

    @route(Action201.log_status_notification)
    async def on_log_status_notification(self, **_: object) -> result201.LogStatusNotification:
        return result201.LogStatusNotification()

    @route(Action201.data_transfer)
    async def on_data_transfer(self, **_: object) -> result201.DataTransfer:
        return result201.DataTransfer(status="UnknownVendorId", status_info=NOT_A_CSMS)

    @route(Action201.cleared_charging_limit)
    async def on_cleared_charging_limit(self, **_: object) -> result201.ClearedChargingLimit:
        return result201.ClearedChargingLimit()

    @route(Action201.notify_charging_limit)
    async def on_notify_charging_limit(self, **_: object) -> result201.NotifyChargingLimit:
        return result201.NotifyChargingLimit()

    @route(Action201.notify_customer_information)
    async def on_notify_customer_information(
        self, **_: object
    ) -> result201.NotifyCustomerInformation:
        return result201.NotifyCustomerInformation()

    @route(Action201.notify_display_messages)
    async def on_notify_display_messages(self, **_: object) -> result201.NotifyDisplayMessages:
        return result201.NotifyDisplayMessages()

    @route(Action201.notify_ev_charging_needs)
    async def on_notify_ev_charging_needs(self, **_: object) -> result201.NotifyEVChargingNeeds:
        return result201.NotifyEVChargingNeeds(status="Rejected", status_info=NOT_A_CSMS)

    @route(Action201.notify_ev_charging_schedule)
    async def on_notify_ev_charging_schedule(
        self, **_: object
    ) -> result201.NotifyEVChargingSchedule:
        return result201.NotifyEVChargingSchedule(status="Accepted")

    @route(Action201.notify_monitoring_report)
    async def on_notify_monitoring_report(self, **_: object) -> result201.NotifyMonitoringReport:
        return result201.NotifyMonitoringReport()

    @route(Action201.notify_report)
    async def on_notify_report(self, **_: object) -> result201.NotifyReport:
        return result201.NotifyReport()

    @route(Action201.publish_firmware_status_notification)
    async def on_publish_firmware_status_notification(
        self, **_: object
    ) -> result201.PublishFirmwareStatusNotification:
        return result201.PublishFirmwareStatusNotification()

    @route(Action201.report_charging_profiles)
    async def on_report_charging_profiles(self, **_: object) -> result201.ReportChargingProfiles:
        return result201.ReportChargingProfiles()

    @route(Action201.reservation_status_update)
    async def on_reservation_status_update(self, **_: object) -> result201.ReservationStatusUpdate:
        return result201.ReservationStatusUpdate()

    @route(Action201.get_15118_ev_certificate)
    async def on_get_15118_ev_certificate(self, **_: object) -> result201.Get15118EVCertificate:
        return result201.Get15118EVCertificate(
            status="Failed", exi_response="", status_info=NOT_A_CSMS
        )

    @route(Action201.get_certificate_status)
    async def on_get_certificate_status(self, **_: object) -> result201.GetCertificateStatus:
        return result201.GetCertificateStatus(status="Failed", status_info=NOT_A_CSMS)

    @route(Action201.sign_certificate)
    async def on_sign_certificate(self, **_: object) -> result201.SignCertificate:
        return result201.SignCertificate(status="Rejected", status_info=NOT_A_CSMS)


OBSERVERS: dict[str, type[Observer16] | type[Observer201]] = {
    "1.6": Observer16,
    "2.0.1": Observer201,
}
