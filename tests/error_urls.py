"""The project's URLs plus one view that fails, to see the 500 page as residents would."""

from django.urls import path

from madoguchi.urls import handler403, handler404, handler500  # noqa: F401
from madoguchi.urls import urlpatterns as project_urlpatterns


def boom(http_request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), *project_urlpatterns]
