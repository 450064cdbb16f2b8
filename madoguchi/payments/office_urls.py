from django.urls import path

from . import office

app_name = "payments_office"
urlpatterns = [
    path("mismatches/", office.mismatches, name="mismatches"),
    path("simulation/", office.simulation, name="simulation"),
    path("r/<uuid:public_id>/refund-copies/", office.refund_copies, name="refund_copies"),
]
