"""The channels the statistics and the issuance history name: the request channels of the record
(web, LINE) and those counted from elsewhere (the convenience-store report, staff registrations)."""

from django.utils.translation import gettext_lazy as _

from madoguchi.applications.models import RequestChannel

KIOSK, COUNTER, MAIL = "kiosk", "counter", "mail"
CHANNELS = [*RequestChannel.choices,
            *[(value, label) for value, label in ((KIOSK, _("コンビニ")), (COUNTER, _("窓口")), (MAIL, _("郵送")))
              if value not in RequestChannel.values]]
