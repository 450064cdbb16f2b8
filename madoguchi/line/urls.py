from django.urls import path

from . import views

app_name = "line"
urlpatterns = [
    path("<str:code>/webhook", views.webhook, name="webhook"),
    path("<str:code>/liff/r/<uuid:public_id>/", views.liff_request, name="liff_request"),
]
