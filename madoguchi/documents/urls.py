from django.urls import path

from . import views

app_name = "documents"
urlpatterns = [
    path("<str:issue_number>", views.verify, name="verify"),
]
