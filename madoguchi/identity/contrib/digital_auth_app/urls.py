from django.urls import path

from . import views

app_name = "identity_digital_auth_app"
urlpatterns = [
    path("start/<str:nonce>/", views.start, name="start"),
    path("callback/", views.callback, name="callback"),
]
