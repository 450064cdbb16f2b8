from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from madoguchi.backoffice.pages import site as office_pages

urlpatterns = [
    path("", include("madoguchi.web.urls")),
    path("office/", include("madoguchi.backoffice.urls")),
    path("office/", include(office_pages.urlpatterns())),  # pages other apps contribute (their office.py)
    path("payments/", include("madoguchi.payments.urls")),
    path("verify/", include("madoguchi.documents.urls")),
    path("identity/digital-auth-app/", include("madoguchi.identity.contrib.digital_auth_app.urls")),
    path("line/", include("madoguchi.line.urls")),
    path("admin/", admin.site.urls),
]
# Japanese pages in the resident design, also with DEBUG off (madoguchi.web.errors).
handler404 = "madoguchi.web.errors.page_not_found"
handler403 = "madoguchi.web.errors.permission_denied"
handler500 = "madoguchi.web.errors.server_error"

if settings.SANDBOX_ENABLED:
    urlpatterns += [
        path("sandbox/jpki/", include("madoguchi.identity.contrib.sandbox.urls")),
        path("sandbox/pay/", include("madoguchi.payments.contrib.sandbox.urls")),
    ]
if settings.LINE_EMULATOR:
    urlpatterns.append(path("line-emulator/", include("madoguchi.line.emulator.urls")))
