from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from madoguchi.backoffice.pages import site as office_pages
from madoguchi.documents.tsa import sandbox_tsa as sandbox_document_tsa
from madoguchi.documents.views import qr_redirect
from madoguchi.operations import health
from madoguchi.operations.tsa_local import sandbox_tsa_view

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("", include("madoguchi.web.urls")),
    path("office/", include("madoguchi.backoffice.urls")),
    path("office/", include(office_pages.urlpatterns())),  # pages other apps contribute (their office.py)
    path("payments/", include("madoguchi.payments.urls")),
    path("verify/", include("madoguchi.documents.urls")),
    path("V/<str:issue_number>", qr_redirect, name="verify_qr"),  # the QR code's short address
    path("identity/digital-auth-app/", include("madoguchi.identity.contrib.digital_auth_app.urls")),
    path("line/", include("madoguchi.line.urls")),
]
if settings.ADMIN_ENABLED:
    urlpatterns.append(path("admin/", admin.site.urls))
# Japanese pages in the resident design, also with DEBUG off (madoguchi.web.errors).
handler404 = "madoguchi.web.errors.page_not_found"
handler403 = "madoguchi.web.errors.permission_denied"
handler500 = "madoguchi.web.errors.server_error"

if settings.SANDBOX_ENABLED:
    urlpatterns += [
        path("sandbox/jpki/", include("madoguchi.identity.contrib.sandbox.urls")),
        path("sandbox/pay/", include("madoguchi.payments.contrib.sandbox.urls")),
        path("sandbox/tsa/", sandbox_tsa_view, name="sandbox_tsa"),
        path("sandbox/document-tsa", sandbox_document_tsa, name="sandbox_document_tsa"),
    ]
if settings.LINE_EMULATOR:
    urlpatterns.append(path("line-emulator/", include("madoguchi.line.emulator.urls")))
