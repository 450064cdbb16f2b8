from django.urls import path

from . import receipts, views

app_name = "payments"
urlpatterns = [
    path("<str:provider_name>/notify/", views.notify, name="notify"),
    path("<str:provider_name>/return/", views.provider_return, name="return"),
    path("receipt/<str:code>/<uuid:public_id>/", receipts.receipt_page, name="receipt"),
    path("receipt/<str:code>/<uuid:public_id>/receipt.pdf", receipts.receipt_pdf, name="receipt_pdf"),
]
