from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("madoguchi.web.urls")),
    path("office/", include("madoguchi.backoffice.urls")),
    path("payments/", include("madoguchi.payments.urls")),
    path("sandbox/jpki/", include("madoguchi.identity.contrib.sandbox.urls")),
    path("identity/digital-auth-app/", include("madoguchi.identity.contrib.digital_auth_app.urls")),
    path("sandbox/pay/", include("madoguchi.payments.contrib.sandbox.urls")),
    path("admin/", admin.site.urls),
]
