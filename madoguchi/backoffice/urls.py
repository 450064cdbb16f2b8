from django.urls import path

from . import views

app_name = "backoffice"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/totp/", views.totp_view, name="totp"),
    path("logout/", views.logout_view, name="logout"),
    path("", views.queue, name="queue"),
    path("r/<uuid:public_id>/", views.detail, name="detail"),
    path("r/<uuid:public_id>/review/", views.review, name="review"),
    path("r/<uuid:public_id>/approve/", views.approve, name="approve"),
    path("r/<uuid:public_id>/reject/", views.reject, name="reject"),
    path("r/<uuid:public_id>/mailed/", views.mailed, name="mailed"),
    path("r/<uuid:public_id>/send-back/", views.send_back, name="send_back"),
    path("r/<uuid:public_id>/cancel/", views.cancel, name="cancel"),
    path("r/<uuid:public_id>/refund-copies/", views.refund_copies, name="refund_copies"),
    path("r/<uuid:public_id>/document.pdf", views.document_pdf, name="document_pdf"),
    path("r/<uuid:public_id>/receipt.pdf", views.receipt_pdf, name="receipt_pdf"),
    path("print-approved/", views.print_approved, name="print_approved"),
    path("audit/", views.audit_home, name="audit_home"),
    path("manager/", views.manager_home, name="manager_home"),
    path("batch/", views.batch, name="batch"),
    path("batch/<int:batch_id>/", views.batch_detail, name="batch_detail"),
    path("batch/<int:batch_id>/reprint/", views.batch_reprint, name="batch_reprint"),
    path("batch/<int:batch_id>/mailed/", views.batch_mailed, name="batch_mailed"),
    path("logs/", views.access_logs, name="logs"),
]
