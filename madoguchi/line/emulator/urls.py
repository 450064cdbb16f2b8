"""The local LINE Platform emulator, mounted under /line-emulator/ only with DEBUG or in tests."""

from django.urls import path

from . import views

app_name = "line_emulator"
urlpatterns = [
    path("v2/bot/info", views.bot_info, name="bot_info"),
    path("v2/bot/message/reply", views.reply, name="reply"),
    path("v2/bot/message/push", views.push, name="push"),
    path("v2/bot/richmenu", views.create_rich_menu, name="richmenu"),
    path("v2/bot/richmenu/<str:rich_menu_id>/content", views.rich_menu_image, name="richmenu_content"),
    path("v2/bot/user/all/richmenu/<str:rich_menu_id>", views.default_rich_menu, name="richmenu_default"),
    path("oauth2/v2.1/verify", views.verify_id_token, name="verify"),
    path("liff-sdk.js", views.liff_sdk, name="liff_sdk"),
    path("liff/token", views.liff_token, name="liff_token"),
    path("liff/<str:liff_id>/<path:rest>", views.liff_open, name="liff_open"),
    path("chat/<str:code>/", views.chat, name="chat"),
    path("chat/<str:code>/send", views.send, name="send"),
    path("chat/<str:code>/count", views.count, name="count"),
]
