from django.urls import path, re_path

from . import views

app_name = "web"
urlpatterns = [
    path("", views.index, name="index"),
    path("m/<str:code>/", views.home, name="home"),
    path("m/<str:code>/apply/", views.apply_type, name="apply_type"),
    path("m/<str:code>/apply/options/", views.apply_options, name="apply_options"),
    path("m/<str:code>/apply/copies/", views.apply_copies, name="apply_copies"),
    path("m/<str:code>/apply/delivery/", views.apply_delivery, name="apply_delivery"),
    path("m/<str:code>/apply/confirm/", views.apply_confirm, name="apply_confirm"),
    path("m/<str:code>/r/<uuid:public_id>/sign/", views.sign, name="sign"),
    path("m/<str:code>/r/<uuid:public_id>/pay/", views.pay, name="pay"),
    path("m/<str:code>/r/<uuid:public_id>/done/", views.done, name="done"),
    path("m/<str:code>/status/", views.status, name="status"),
    re_path(r"^m/(?P<code>[^/]+)/about/(?P<page>privacy|terms|accessibility)/$", views.legal, name="legal"),
]
urlpatterns += [
    path("m/<str:code>/link/<str:token>/", views.resident_link, name="resident_link"),
    path("m/<str:code>/r/<uuid:public_id>/", views.request_page, name="request"),
    path("m/<str:code>/r/<uuid:public_id>/receipt/", views.confirm_receipt, name="confirm_receipt"),
    path("m/<str:code>/r/<uuid:public_id>/survey/", views.survey, name="survey"),
    path("m/<str:code>/r/<uuid:public_id>/cancel/", views.cancel, name="cancel"),
    path("m/<str:code>/r/<uuid:public_id>/correct/", views.correct, name="correct"),
    path("m/<str:code>/r/<uuid:public_id>/withdraw/", views.withdraw, name="withdraw"),
    path("m/<str:code>/my/", views.my_requests, name="my_requests"),
    path("m/<str:code>/my/link/<str:token>/", views.requests_link, name="requests_link"),
    path("m/<str:code>/my/card/", views.my_requests_card, name="my_requests_card"),
    path("m/<str:code>/my/list/<str:token>/", views.requests_list_link, name="requests_list_link"),
]
