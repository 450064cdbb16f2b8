from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("madoguchi.web.urls")),
    path("office/", include("madoguchi.backoffice.urls")),
    path("payments/", include("madoguchi.payments.urls")),
    path("sandbox/jpki/", include("madoguchi.identity.contrib.sandbox.urls")),
    path("sandbox/pay/", include("madoguchi.payments.contrib.sandbox.urls")),
    path("line/", include("madoguchi.line.urls")),
    path("admin/", admin.site.urls),
]
if settings.LINE_EMULATOR:
    urlpatterns.append(path("line-emulator/", include("madoguchi.line.emulator.urls")))

