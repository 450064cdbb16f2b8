from django.urls import path

from . import views

app_name = "identity_sandbox"
urlpatterns = [
    path("card/<str:nonce>/", views.card, name="card"),
    path("returned/", views.returned, name="returned"),
    path("authenticate/<str:nonce>/", views.authenticate, name="authenticate"),
    path("authenticated/", views.authenticated, name="authenticated"),
]
