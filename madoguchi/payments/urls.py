from django.urls import path

from . import views

app_name = "payments"
urlpatterns = [
    path("<str:provider_name>/notify/", views.notify, name="notify"),
    path("<str:provider_name>/return/", views.provider_return, name="return"),
]
