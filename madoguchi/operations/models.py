"""The operations records: the audit trail of staff actions and the access log (who saw whose data).

Both are hash chains per municipality (docs/operations.md, "Audit trail"): each row stores the
previous row's hash and its own SHA-256 over a canonical serialisation (`operations.chain`), so a
deleted, altered or reordered row breaks the chain. `ChainHead` holds each chain's last position;
writers lock it, so concurrent writers never fork a chain. Rows are written only through
`operations.audit`.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.tenancy.models import Municipality, TenantQuerySet

GENESIS = "0" * 64


class Log(models.TextChoices):
    AUDIT = "audit", _("操作記録")
    ACCESS = "access", _("アクセスログ")


class ChainHead(models.Model):
    """The last row of one chain. `base_*` is where the chain starts after retention removed
    the checkpointed segments before it (GENESIS and 0 until then)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, null=True, blank=True)
    log = models.CharField(max_length=10, choices=Log.choices)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS)
    base_seq = models.PositiveBigIntegerField(default=0)
    base_hash = models.CharField(max_length=64, default=GENESIS)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["municipality", "log"], condition=models.Q(municipality__isnull=False),
                                    name="chain_head_per_municipality"),
            # The service operator's chain (no municipality).
            models.UniqueConstraint(fields=["log"], condition=models.Q(municipality__isnull=True),
                                    name="chain_head_of_operator"),
        ]


class AuditAction(models.TextChoices):
    """What a staff member (or the system) did. Other apps add members here as they record more."""

    SIGN_IN = "sign_in", _("サインイン")
    SIGN_IN_FAILED = "sign_in_failed", _("サインイン失敗")
    SIGN_OUT = "sign_out", _("サインアウト")
    SIGN_IN_DELAYED = "sign_in_delayed", _("サインインの待機")
    # A resident signing in to 「申請の一覧」 with the card's 利用者証明用電子証明書 (identity.authentication).
    RESIDENT_CARD_SIGN_IN = "resident_card_sign_in", _("住民のマイナンバーカードによるサインイン")
    RESIDENT_CARD_SIGN_IN_FAILED = "resident_card_sign_in_failed", _("住民のマイナンバーカードによるサインイン失敗")
    SESSION_EXPIRED = "session_expired", _("セッション期限切れ")
    NETWORK_REFUSED = "network_refused", _("許可されていないネットワーク")
    ADMIN_REQUEST = "admin_request", _("運用管理画面の操作")
    ADMIN_REFUSED = "admin_refused", _("運用管理画面の拒否")
    REVIEW_STARTED = "review_started", _("審査開始")
    APPROVED = "approved", _("承認")
    REJECTED = "rejected", _("却下")
    SENT_BACK = "sent_back", _("差戻し")
    HOLD_RELEASED = "hold_released", _("保留の解除")
    ISSUANCE_STOP_PLACED = "issuance_stop_placed", _("発行停止の設定")
    ISSUANCE_STOP_LIFTED = "issuance_stop_lifted", _("発行停止の解除")
    CANCELLED = "cancelled", _("取消し")
    PRINTED = "printed", _("印刷")
    REPRINTED = "reprinted", _("再印刷")
    MAILED = "mailed", _("発送")
    UNDELIVERED = "undelivered", _("返戻の記録")
    PARTIAL_REFUND = "partial_refund", _("一部返金")
    SETTING_CHANGED = "setting_changed", _("設定変更")
    STAFF_CHANGED = "staff_changed", _("職員の変更")
    LOG_SEARCHED = "log_searched", _("ログ検索")
    LOG_EXPORTED = "log_exported", _("ログ出力")
    DISCLOSURE_SEARCHED = "disclosure_searched", _("開示請求の交付履歴検索")
    DISCLOSURE_REVIEWED = "disclosure_reviewed", _("開示請求の不開示判断")
    DISCLOSURE_EXPORTED = "disclosure_exported", _("開示請求の交付履歴出力")
    STATISTICS_EXPORTED = "statistics_exported", _("統計出力")
    COUNTER_REQUEST_REGISTERED = "counter_request_registered", _("窓口・郵送申請の登録")
    ISSUANCE_REPORT_IMPORTED = "issuance_report_imported", _("コンビニ交付実績の取込")
    CHECKPOINT_WRITTEN = "checkpoint_written", _("チェックポイント作成")
    RETENTION_PRUNED = "retention_pruned", _("保存期間経過ログの削除")


class AuditEvent(models.Model):
    """One staff action. `before`/`after` hold the exact canonical JSON text that was hashed, so
    verification never re-serialises (and PostgreSQL's jsonb cannot reorder keys under it)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, null=True, blank=True)
    seq = models.PositiveBigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    # The user name at the time (accounts are renamed or deactivated; the trail must still read).
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    # What was acted on: a model label, its id and a label without personal data (受付番号, 設定名).
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=100, blank=True)
    # The person the action concerns, for the search by person; kept when the replica row goes.
    resident = models.ForeignKey("registry.Resident", on_delete=models.DO_NOTHING, db_constraint=False,
                                 null=True, blank=True, related_name="+")
    before = models.TextField(blank=True)
    after = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        constraints = [models.UniqueConstraint(fields=["municipality", "seq"], name="audit_event_seq_once")]
        indexes = [models.Index(fields=["municipality", "at"]),
                   models.Index(fields=["municipality", "actor", "at"]),
                   models.Index(fields=["municipality", "resident", "at"]),
                   models.Index(fields=["municipality", "action", "at"])]


class AccessLog(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    seq = models.PositiveBigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    action = models.CharField(max_length=40)  # view_request, download_pdf, print_batch, ...
    request = models.ForeignKey("applications.CertificateRequest", on_delete=models.PROTECT,
                                null=True, blank=True)
    resident = models.ForeignKey("registry.Resident", on_delete=models.PROTECT, null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["municipality", "seq"], name="access_log_seq_once")]
        indexes = [models.Index(fields=["municipality", "at"]),
                   models.Index(fields=["municipality", "staff", "at"]),
                   models.Index(fields=["municipality", "resident", "at"])]


class Checkpoint(models.Model):
    """A signed, timestamped chain head, as written to the file the auditor receives. Kept here
    too so that retention knows which segments are checkpointed; the file is what proves them."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField()
    audit_seq = models.PositiveBigIntegerField()
    audit_hash = models.CharField(max_length=64)
    access_seq = models.PositiveBigIntegerField()
    access_hash = models.CharField(max_length=64)
    document = models.TextField()  # the file's JSON text

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["municipality", "created_at"])]


# --- 開示請求: the issuance history of a person ----------------------------------------------------

class IssuedSubject(models.Model):
    """A person named on a certificate, recorded when the certificate's content is fixed at
    approval, so the history answers "who obtained certificates about this person" even when the
    person was not the requester (a household member, a person in the 戸籍)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    request = models.ForeignKey("applications.CertificateRequest", on_delete=models.PROTECT, related_name="+")
    # Kept when the replica row goes (moved out, 除票); the name and date of birth as printed.
    resident = models.ForeignKey("registry.Resident", on_delete=models.DO_NOTHING, db_constraint=False,
                                 null=True, blank=True, related_name="+")
    name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["municipality", "resident"]), models.Index(fields=["municipality", "name"])]


class NonDisclosureReason(models.TextChoices):
    """不開示情報 of 個人情報保護法 第78条第1項 (and 第2項: a municipality's 条例 may add
    information its 情報公開条例 withholds)."""

    LIFE = "78-1-1", _("第78条第1項第1号(開示請求者の生命、健康、生活又は財産を害するおそれ)")
    THIRD_PERSON = "78-1-2", _("第78条第1項第2号(開示請求者以外の個人に関する情報)")
    CORPORATION = "78-1-3", _("第78条第1項第3号(法人等に関する情報)")
    PUBLIC_SAFETY = "78-1-5", _("第78条第1項第5号(犯罪の予防その他公共の安全と秩序の維持)")
    DELIBERATION = "78-1-6", _("第78条第1項第6号(審議、検討又は協議に関する情報)")
    BUSINESS = "78-1-7", _("第78条第1項第7号(事務又は事業の適正な遂行に支障)")
    ORDINANCE = "78-2", _("第78条第2項(条例で定める情報)")


class DisclosureCase(models.Model):
    """One 開示請求 answered from the issuance history: the search, the staff review that marks
    what is not disclosed, and the export handed to the person."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    reference = models.CharField(_("開示請求の受付番号"), max_length=40, blank=True)
    resident = models.ForeignKey("registry.Resident", on_delete=models.DO_NOTHING, db_constraint=False,
                                 related_name="+")
    criteria = models.TextField()  # canonical JSON of the search
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]


class DisclosureItem(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    case = models.ForeignKey(DisclosureCase, on_delete=models.CASCADE, related_name="items")
    request = models.ForeignKey("applications.CertificateRequest", on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField()
    # The whole entry is not disclosed, or only who asked for it (the requester is another person).
    withheld = models.BooleanField(default=False)
    requester_withheld = models.BooleanField(default=False)
    reason = models.CharField(max_length=10, choices=NonDisclosureReason.choices, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["issued_at", "id"]
        constraints = [models.UniqueConstraint(fields=["municipality", "case", "request"],
                                               name="disclosure_item_once")]


# --- statistics ------------------------------------------------------------------------------------

class Metric(models.TextChoices):
    RECEIVED = "received", _("受付")
    ISSUED = "issued", _("交付")
    REJECTED = "rejected", _("却下")
    REFUNDED = "refunded", _("返金")
    CANCELLED = "cancelled", _("取消")
    # Restrictions (docs/restrictions.md): refused before payment, or held for a clerk or manager; the
    # reason dimension holds the reason codes.
    REFUSED = "refused", _("受付不可(発行制限)")
    HELD = "held", _("保留(発行制限)")


class HourlyStat(models.Model):
    """Requests received and issued per day and hour by kind and channel (for the charts by hour,
    by weekday and in/out of office hours). Maintained from the request events as they are written
    (`operations.stats`), from staff-registered counter and mail requests and from imported
    convenience-store issuances; `manage.py stats rebuild` recomputes it from those sources."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    office_hours = models.BooleanField()
    metric = models.CharField(max_length=12, choices=Metric.choices)
    certificate_type = models.CharField(max_length=40)
    channel = models.CharField(max_length=12)
    requests = models.PositiveIntegerField(default=0)
    copies = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["municipality", "day", "hour", "office_hours", "metric", "certificate_type", "channel"],
            name="hourly_stat_once")]
        indexes = [models.Index(fields=["municipality", "day"])]


class DailyStat(models.Model):
    """Requests, copies and money per day of each metric by kind, channel and reason code."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    day = models.DateField()
    metric = models.CharField(max_length=12, choices=Metric.choices)
    certificate_type = models.CharField(max_length=40)
    channel = models.CharField(max_length=12)
    reason = models.CharField(max_length=40, blank=True)  # the reason code of a refusal
    requests = models.PositiveIntegerField(default=0)
    copies = models.PositiveIntegerField(default=0)
    fee = models.BigIntegerField(default=0)
    postage = models.BigIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["municipality", "day", "metric", "certificate_type", "channel", "reason"],
            name="daily_stat_once")]
        indexes = [models.Index(fields=["municipality", "day"])]


class AreaMonthStat(models.Model):
    """Requests received per month by area (町丁目, or 市外), kind and channel. By month: an area's
    count on a single day is small enough to point at a household, and a month keeps the table
    small for large cities."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    month = models.DateField()  # the first day of the month
    certificate_type = models.CharField(max_length=40)
    channel = models.CharField(max_length=12)
    area = models.CharField(max_length=60, blank=True)
    requests = models.PositiveIntegerField(default=0)
    copies = models.PositiveIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "month", "certificate_type", "channel",
                                                       "area"], name="area_month_stat_once")]
        indexes = [models.Index(fields=["municipality", "month"])]


class CounterRecord(models.Model):
    """A request made at the 窓口 or by post, registered by staff for the statistics: what and
    when, never who (no personal data is needed to count it)."""

    class Channel(models.TextChoices):
        COUNTER = "counter", _("窓口")
        MAIL = "mail", _("郵送")

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    at = models.DateTimeField(_("受付日時"))
    channel = models.CharField(_("申請の方法"), max_length=12, choices=Channel.choices)
    certificate_type = models.CharField(_("証明書の種類"), max_length=40)
    copies = models.PositiveSmallIntegerField(_("通数"))
    fee = models.PositiveIntegerField(_("手数料の合計(円)"))
    postage = models.PositiveIntegerField(_("郵便料(円)"), default=0)
    area = models.CharField(_("地区(町丁目)"), max_length=60, blank=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["municipality", "at"])]


class KioskReport(models.Model):
    """One imported daily issuance report of the 証明書交付センター (docs/operations.md)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    sha256 = models.CharField(max_length=64)
    report_day = models.DateField()
    rows = models.PositiveIntegerField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "sha256"], name="kiosk_report_once"),
                       models.UniqueConstraint(fields=["municipality", "report_day"], name="kiosk_report_day_once")]


class KioskIssuance(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    report = models.ForeignKey(KioskReport, on_delete=models.CASCADE, related_name="issuances")
    at = models.DateTimeField()
    certificate_type = models.CharField(max_length=40)
    copies = models.PositiveSmallIntegerField()
    fee = models.PositiveIntegerField()
    # 住民票 etc. of a resident, or a 戸籍 of a person registered elsewhere (住登外).
    outside = models.BooleanField(default=False)

    objects = TenantQuerySet.as_manager()


class KpiTarget(models.Model):
    """A target the municipality commits to (e.g. in a デジ田 grant): LINE friends 530 → 1,100."""

    class Kpi(models.TextChoices):
        LINE_FRIENDS = "line_friends", _("LINE友だち数")
        PROCEDURES_ONLINE = "procedures_online", _("オンライン化した手続数")
        ONLINE_REQUESTS = "online_requests", _("オンライン申請件数(月)")
        SATISFACTION = "satisfaction", _("満足度(5段階平均)")

    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT)
    kpi = models.CharField(max_length=24, choices=Kpi.choices)
    baseline = models.DecimalField(_("基準値"), max_digits=10, decimal_places=2, null=True, blank=True)
    target = models.DecimalField(_("目標値"), max_digits=10, decimal_places=2)
    target_date = models.DateField(_("目標年月日"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "kpi"], name="kpi_target_once")]
