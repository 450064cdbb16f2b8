from django.urls import path

from . import views

app_name = "payments_sandbox"
urlpatterns = [path("<str:charge_id>/", views.checkout, name="checkout")]
