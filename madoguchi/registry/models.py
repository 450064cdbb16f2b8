"""The replica (副本) of the resident register (住民記録), fed by linkage files from the core system.

Certificates are rendered from these rows, so the service keeps issuing while the core systems are
down. Names are stored exactly as recorded, including ideographic variation sequences (IVS).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from madoguchi.tenancy.models import Municipality, TenantOneToOneField, TenantQuerySet


class Sex(models.TextChoices):
    # Codes as in JPKI certificates and 住民記録: 1 男, 2 女.
    MALE = "1", _("男")
    FEMALE = "2", _("女")


class RemovalReason(models.TextChoices):
    """Why a 住民票 became a 除票 (住民基本台帳法 第8条, 住民基本台帳法施行令 第8条・第10条・第12条)."""

    MOVED_OUT = "moved_out", _("転出")
    DECEASED = "deceased", _("死亡")
    ERASED = "erased", _("職権消除")
    # Absent from a full linkage file: the core system no longer holds the person. Marked, never
    # deleted, because requests point at the row.
    ABSENT = "absent", _("消除(全件ファイルに不在)")


class ForeignResidentCategory(models.TextChoices):
    """The 区分 of a foreign resident (住民基本台帳法 第30条の45 表)."""

    MID_LONG_TERM = "mid_long_term", _("中長期在留者")
    SPECIAL_PERMANENT = "special_permanent", _("特別永住者")
    TEMPORARY_REFUGE = "temporary_refuge", _("一時庇護許可者")
    PROVISIONAL_STAY = "provisional_stay", _("仮滞在許可者")
    BIRTH_TRANSITION = "birth_transition", _("出生による経過滞在者")
    NATIONALITY_LOSS_TRANSITION = "nationality_loss_transition", _("国籍喪失による経過滞在者")


class Household(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="households")
    household_number = models.CharField(_("世帯番号"), max_length=16)
    postal_code = models.CharField(_("郵便番号"), max_length=8)
    address = models.CharField(_("住所"), max_length=200)
    head = models.ForeignKey("Resident", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Digest of the imported row: an import rewrites only rows whose content changed.
    record_hash = models.CharField(max_length=32, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "household_number"],
                                               name="household_number_unique_per_municipality")]


class Resident(models.Model):
    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="residents")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="members")
    # 宛名番号: the core system's internal person number. Never a My Number.
    person_number = models.CharField(_("宛名番号"), max_length=16)
    name = models.CharField(_("氏名"), max_length=100)
    # 振り仮名 in katakana as the register records it (imports convert hiragana to katakana).
    name_kana = models.CharField(_("フリガナ"), max_length=200)
    date_of_birth = models.DateField(_("生年月日"))
    sex = models.CharField(_("性別"), max_length=1, choices=Sex.choices)
    relationship = models.CharField(_("続柄"), max_length=20)
    honseki = models.CharField(_("本籍"), max_length=200, blank=True)
    koseki_head = models.CharField(_("筆頭者"), max_length=100, blank=True)
    # 旧氏 (住民基本台帳法施行令 第30条の13) and its 振り仮名.
    former_surname = models.CharField(_("旧氏"), max_length=50, blank=True)
    former_surname_kana = models.CharField(_("旧氏のフリガナ"), max_length=100, blank=True)
    # The current 通称 (施行令 第30条の26); its history is `AliasRecord`.
    alias = models.CharField(_("通称"), max_length=100, blank=True)
    alias_kana = models.CharField(_("通称のフリガナ"), max_length=200, blank=True)
    nationality = models.CharField(_("国籍・地域"), max_length=50, blank=True)
    became_resident_on = models.DateField(_("住民となった日"))
    became_resident_reason = models.CharField(_("住民となった事由"), max_length=20, blank=True)  # 出生, 転入, ...
    # 住民基本台帳法 第7条第7号・第8号: 住所を定めた年月日, 届出の年月日 and 従前の住所; 転入前住所 is the
    # address before moving into the municipality (住民記録システム標準仕様書).
    address_since = models.DateField(_("住所を定めた年月日"), null=True, blank=True)
    address_notified_on = models.DateField(_("届出の年月日"), null=True, blank=True)
    previous_address = models.CharField(_("従前の住所"), max_length=200, blank=True)
    address_before_moving_in = models.CharField(_("転入前住所"), max_length=200, blank=True)
    # 除票 (住民基本台帳法 第15条の2): kept and marked, never deleted.
    removed_on = models.DateField(_("消除の年月日"), null=True, blank=True)
    removal_reason = models.CharField(_("消除の事由"), max_length=12, choices=RemovalReason.choices, blank=True)
    moved_to = models.CharField(_("転出先"), max_length=200, blank=True)
    # Foreign residents (住民基本台帳法 第30条の45).
    foreign_resident_category = models.CharField(_("第30条の45区分"), max_length=32, blank=True,
                                                 choices=ForeignResidentCategory.choices)
    became_foreign_resident_on = models.DateField(_("外国人住民となった年月日"), null=True, blank=True)
    residence_status = models.CharField(_("在留資格"), max_length=50, blank=True)
    period_of_stay = models.CharField(_("在留期間"), max_length=30, blank=True)
    period_of_stay_ends_on = models.DateField(_("在留期間の満了の日"), null=True, blank=True)
    residence_card_number = models.CharField(_("在留カード等の番号"), max_length=12, blank=True)
    # 支援措置 (DV, stalking, child abuse): requests about this person always go to a clerk.
    # Kept in step with the active `SupportMeasure` rows by the import.
    support_measure = models.BooleanField(_("支援措置対象"), default=False)
    record_hash = models.CharField(max_length=32, blank=True, editable=False)
    # When an import last changed or removed this person (requests in the queue are flagged).
    record_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "person_number"],
                                               name="person_number_unique_per_municipality")]
        indexes = [models.Index(fields=["municipality", "date_of_birth"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_foreign(self) -> bool:
        return bool(self.nationality)

    @property
    def address(self) -> str:
        return self.household.address

    @property
    def is_removed(self) -> bool:
        """A 除票: moved out, deceased, erased or absent from the core system's full file."""
        return bool(self.removal_reason)


class SealRegistration(models.Model):
    """印鑑登録 (each municipality's 印鑑条例): one registered seal per resident, with its impression."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="seal_registrations")
    resident = TenantOneToOneField(Resident, on_delete=models.CASCADE, related_name="seal_registration")
    registration_number = models.CharField(_("印鑑登録番号"), max_length=16)
    registered_on = models.DateField(_("登録日"))
    impression_png = models.BinaryField(_("印影(PNG)"))
    # 旧氏 printed on the certificate when registered with it (印鑑登録証明事務処理要領).
    uses_former_surname = models.BooleanField(_("旧氏で登録"), default=False)
    record_hash = models.CharField(max_length=32, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "registration_number"],
                                               name="seal_registration_number_unique"),
                       models.UniqueConstraint(fields=["municipality", "resident"], name="one_seal_per_resident")]


class Koseki(models.Model):
    """A 戸籍 whose 本籍 is in this municipality (戸籍法 第6条: one per 本籍 and 筆頭者), as the
    computerized register (戸籍法施行規則 付録第22号様式) records it."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="koseki")
    honseki = models.CharField(_("本籍"), max_length=200)
    head_name = models.CharField(_("筆頭者"), max_length=100)
    # 戸籍事項: [{"kind": "戸籍編製", "date": "YYYY-MM-DD"}, ...]
    events = models.JSONField(_("戸籍事項"), default=list)
    # 本籍 and 筆頭者 as a resident would type them (`registry.matching.koseki_lookup_key`).
    lookup_key = models.CharField(max_length=320)
    # 除籍: every member has left; the 戸籍 moves to the 除籍簿 (戸籍法 第12条) and stays issuable.
    closed_on = models.DateField(_("除籍の年月日"), null=True, blank=True)
    record_hash = models.CharField(max_length=32, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "honseki", "head_name"],
                                               name="koseki_unique_per_honseki_and_head")]
        indexes = [models.Index(fields=["municipality", "lookup_key"])]


class KosekiMember(models.Model):
    """戸籍に記録されている者, in the order of the register; `resident` when they live here."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE)
    koseki = models.ForeignKey(Koseki, on_delete=models.CASCADE, related_name="members")
    position = models.PositiveSmallIntegerField()
    resident = models.ForeignKey(Resident, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="koseki_entries")
    name = models.CharField(_("氏名"), max_length=100)
    # 氏名の振り仮名, recorded in 戸籍 since 2025-05-26 (戸籍法 第13条第1項第2号, 令和5年法律第48号).
    name_kana = models.CharField(_("氏名の振り仮名"), max_length=200, blank=True)
    date_of_birth = models.DateField(_("生年月日"))
    sex = models.CharField(_("性別"), max_length=1, choices=Sex.choices)
    # 【配偶者区分】 夫 / 妻, blank for the unmarried.
    spouse_category = models.CharField(_("配偶者区分"), max_length=2, blank=True)
    father = models.CharField(_("父"), max_length=100, blank=True)
    mother = models.CharField(_("母"), max_length=100, blank=True)
    relationship = models.CharField(_("続柄"), max_length=20)  # 長男, 二女, ...
    removed = models.BooleanField(_("除籍"), default=False)
    # 身分事項: [{"kind": "出生", "date": "YYYY-MM-DD", "details": [["出生地", "..."], ...]}, ...];
    # kinds in `registry.imports.base.KOSEKI_EVENT_KINDS`.
    events = models.JSONField(_("身分事項"), default=list)
    # 戸籍の附票: [{"address": "...", "since": "YYYY-MM-DD", "removed_on": "YYYY-MM-DD"?}, ...], oldest
    # first (住民基本台帳法 第17条, 第17条の2).
    address_history = models.JSONField(_("住所の履歴"), default=list)
    record_hash = models.CharField(max_length=32, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["koseki", "position"]
        constraints = [models.UniqueConstraint(fields=["municipality", "koseki", "position"],
                                               name="koseki_member_position_unique")]


class TaxRecord(models.Model):
    """個人住民税 of one fiscal year (年度, assessed on the previous calendar year's income)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="tax_records")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="tax_records")
    fiscal_year = models.PositiveSmallIntegerField(_("年度"))
    salary_income = models.PositiveIntegerField(_("給与収入"), default=0)
    income = models.PositiveIntegerField(_("所得金額"))
    deductions = models.PositiveIntegerField(_("所得控除額"))
    dependents = models.PositiveSmallIntegerField(_("扶養人数"), default=0)
    municipal_tax = models.PositiveIntegerField(_("市町村民税"))
    prefectural_tax = models.PositiveIntegerField(_("道府県民税"))
    # 均等割 and 所得割 of each (地方税法 第310条・第314条の3, 第38条・第35条); the totals above are their sums.
    municipal_per_capita = models.PositiveIntegerField(_("市町村民税 均等割"), default=0)
    municipal_income_levy = models.PositiveIntegerField(_("市町村民税 所得割"), default=0)
    prefectural_per_capita = models.PositiveIntegerField(_("道府県民税 均等割"), default=0)
    prefectural_income_levy = models.PositiveIntegerField(_("道府県民税 所得割"), default=0)
    # {"給与": 3000000, "事業": 0, "不動産": 0, "雑(公的年金等)": 0, ...} as 所得 per kind.
    income_breakdown = models.JSONField(_("所得の内訳"), default=dict, blank=True)
    # {"社会保険料控除": 400000, "基礎控除": 430000, ...}
    deduction_breakdown = models.JSONField(_("所得控除の内訳"), default=dict, blank=True)
    # The people behind `dependents` by the kind of 控除 they give (地方税法 第34条第1項第10号の2・第11号,
    # 第314条の2): {"控除対象配偶者": 1, "一般扶養親族": 1, "特定扶養親族": 0, "老人扶養親族": 0,
    # "年少扶養親族": 2} (年少 give no 控除 but count for 非課税, 地方税法施行令 第47条の3).
    dependant_breakdown = models.JSONField(_("扶養親族等の内訳"), default=dict, blank=True)
    # The tax is levied where the taxpayer lived on 1 January of the 年度 (地方税法 第39条, 第318条).
    address_on_january_1 = models.CharField(_("1月1日現在の住所"), max_length=200, blank=True)
    record_hash = models.CharField(max_length=32, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "resident", "fiscal_year"],
                                               name="tax_record_per_year")]

    @property
    def taxable_income(self) -> int:
        return max(0, self.income - self.deductions)

    @property
    def total_tax(self) -> int:
        return self.municipal_tax + self.prefectural_tax


class AddressRecord(models.Model):
    """One address a resident held in this municipality (異動履歴: 転入, 転居, ...), oldest first.

    The current address is the household's; these rows are what a 住民票 prints as its address
    history on request (住民基本台帳法 第7条第7号・第8号, 住民記録システム標準仕様書 1.2 異動履歴データ).
    """

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="address_records")
    seq = models.PositiveSmallIntegerField()
    address = models.CharField(_("住所"), max_length=200)
    since = models.DateField(_("住所を定めた年月日"))
    notified_on = models.DateField(_("届出の年月日"), null=True, blank=True)
    change = models.CharField(_("異動事由"), max_length=20, blank=True)  # 転入, 転居, 職権記載 ...
    record_hash = models.CharField(max_length=32, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["resident", "seq"]
        constraints = [models.UniqueConstraint(fields=["municipality", "resident", "seq"],
                                               name="address_record_seq_unique")]


class AliasRecord(models.Model):
    """The history of a foreign resident's 通称: when each was recorded and deleted, and where
    (住民基本台帳法施行令 第30条の26, 第30条の27)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="alias_records")
    seq = models.PositiveSmallIntegerField()
    alias = models.CharField(_("通称"), max_length=100)
    alias_kana = models.CharField(_("通称のフリガナ"), max_length=200, blank=True)
    recorded_on = models.DateField(_("通称を記載した年月日"))
    recorded_by = models.CharField(_("記載した市町村"), max_length=60, blank=True)
    deleted_on = models.DateField(_("通称を削除した年月日"), null=True, blank=True)
    deleted_by = models.CharField(_("削除した市町村"), max_length=60, blank=True)
    record_hash = models.CharField(max_length=32, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["resident", "seq"]
        constraints = [models.UniqueConstraint(fields=["municipality", "resident", "seq"],
                                               name="alias_record_seq_unique")]


class SupportMeasureKind(models.TextChoices):
    DV = "dv", _("配偶者からの暴力")
    STALKING = "stalking", _("ストーカー行為等")
    CHILD_ABUSE = "child_abuse", _("児童虐待")
    OTHER = "other", _("その他これらに準ずる行為")


class SupportMeasure(models.Model):
    """住民基本台帳事務におけるDV等支援措置 (住民基本台帳事務処理要領 第6-10; 住民基本台帳法 第11条,
    第11条の2, 第12条, 第12条の2, 第12条の3, 第20条): requests that would reveal the protected person
    or their address are restricted, and refused when they come from a listed 相手方 (加害者)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="support_measures")
    # The core system's own number for the 申出, the key of the import.
    measure_number = models.CharField(_("支援措置番号"), max_length=20)
    kind = models.CharField(_("種別"), max_length=12, choices=SupportMeasureKind.choices)
    starts_on = models.DateField(_("開始日"))
    ends_on = models.DateField(_("終了予定日"), null=True, blank=True)  # one year, renewable
    # 相手方 where the core system records them: [{"name": ..., "name_kana": ..., "date_of_birth":
    # "YYYY-MM-DD", "address": ..., "person_number": ... (when a resident here)}]
    perpetrators = models.JSONField(_("相手方(加害者)"), default=list, blank=True)
    record_hash = models.CharField(max_length=32, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "measure_number"],
                                               name="support_measure_number_unique")]

    def is_active(self, on) -> bool:
        return self.starts_on <= on and (self.ends_on is None or on <= self.ends_on)


class IssuanceStop(models.Model):
    """発行停止 recorded in the core system (本人申出, suspected 不正請求, court order): nothing about
    the person is issued while it runs (住民基本台帳法 第12条第6項, 第12条の3第7項: 不当な目的の請求は拒む)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="issuance_stops")
    stop_number = models.CharField(_("発行停止番号"), max_length=20)
    reason = models.CharField(_("理由"), max_length=200)
    starts_on = models.DateField(_("開始日"))
    ends_on = models.DateField(_("終了日"), null=True, blank=True)
    record_hash = models.CharField(max_length=32, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "stop_number"],
                                               name="issuance_stop_number_unique")]


class CardCertificateLink(models.Model):
    """The 利用者証明用電子証明書 of a resident's My Number Card, by its serial number (発行番号),
    linked to the person as the core system's linkage file gives it (電子署名等に係る地方公共団体
    情報システム機構の認証業務に関する法律 第22条). Used by the kiosk channel and for residents
    signing in to see their own requests. No 個人番号 is involved."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="card_links")
    serial_number = models.CharField(_("発行番号(シリアル番号)"), max_length=40)
    valid_until = models.DateField(_("有効期間の満了日"), null=True, blank=True)
    revoked_on = models.DateField(_("失効日"), null=True, blank=True)
    record_hash = models.CharField(max_length=32, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "serial_number"],
                                               name="card_certificate_serial_unique")]


class GaijiMapping(models.Model):
    """A vendor 外字 code and the MJ character it stands for (Unicode, with an IVS where the MJ
    glyph needs one, as IPAmj明朝 prints it)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    vendor_code = models.CharField(_("外字コード"), max_length=20)
    character = models.CharField(_("文字"), max_length=4)
    mj_code = models.CharField(_("MJ文字図形名"), max_length=10, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["municipality", "vendor_code"],
                                               name="gaiji_vendor_code_unique")]


class UnmappedCharacter(models.Model):
    """A vendor 外字 code met in an imported row with no `GaijiMapping` yet. The row is imported with
    the code as it came (a private-use character) and nothing naming that person, household or 戸籍
    is issued until the municipality maps the code: a certificate must reproduce the register's
    characters exactly (住民基本台帳法施行令 第30条の2; 戸籍法施行規則 第31条)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="+")
    record = models.CharField(max_length=20)
    record_key = models.JSONField()  # the record's key values, in `imports.base.RECORDS` order
    field = models.CharField(max_length=40)
    vendor_code = models.CharField(max_length=20)
    character = models.CharField(max_length=2)  # the private-use character as it came
    # Whom it stops: a person, everyone in a household, or a 戸籍 (by its lookup key).
    person_number = models.CharField(max_length=16, blank=True)
    household_number = models.CharField(max_length=16, blank=True)
    koseki_key = models.CharField(max_length=420, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["municipality", "person_number"]),
                   models.Index(fields=["municipality", "household_number"]),
                   models.Index(fields=["municipality", "vendor_code"])]


class ImportKind(models.TextChoices):
    FULL = "full", _("全件")
    DIFF = "diff", _("異動分")


class ImportState(models.TextChoices):
    APPLIED = "applied", _("反映済み")
    DRY_RUN = "dry_run", _("試行(反映なし)")
    REFUSED = "refused", _("受付拒否")
    FAILED = "failed", _("失敗")


class ImportRun(models.Model):
    """One linkage file set offered to the replica, applied or not. Holds counts and reasons only:
    no personal data (rows are named by file and line)."""

    municipality = models.ForeignKey(Municipality, on_delete=models.CASCADE, related_name="replica_imports")
    kind = models.CharField(max_length=4, choices=ImportKind.choices)
    format = models.CharField(max_length=40)
    file_names = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64)
    sequence = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=ImportState.choices)
    generation = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # [{"file": ..., "line": n, "record": "resident", "code": "bad_date", "message": "..."}], capped.
    rejections = models.JSONField(default=list, blank=True)
    # {"vendor code": count}
    unmapped_characters = models.JSONField(default=dict, blank=True)
    refusal_code = models.CharField(max_length=40, blank=True)
    refusal = models.CharField(max_length=500, blank=True)
    operator = models.CharField(max_length=150, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["municipality", "kind", "state", "sequence"])]
        constraints = [models.UniqueConstraint(
            fields=["municipality", "kind", "sequence"], condition=models.Q(state="applied", kind="diff"),
            name="one_applied_diff_per_sequence")]


class ReplicaState(models.Model):
    """The generation pointer: which import the municipality's replica is serving. It moves in the
    same transaction as the rows, so a failed or partial load leaves the previous generation."""

    municipality = models.OneToOneField(Municipality, on_delete=models.CASCADE, related_name="replica_state")
    generation = models.PositiveIntegerField(default=0)
    current_import = models.ForeignKey(ImportRun, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="+")
    # The last 異動 sequence number applied (a full file states the sequence it includes).
    sequence = models.PositiveIntegerField(default=0)
    # 副本の更新日時: when the data was taken from the core system (the file's own timestamp).
    data_as_of = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    # Alarm when the replica is older than this (the municipality's own limit).
    max_age_hours = models.PositiveIntegerField(_("副本の鮮度の上限(時間)"), default=26)
    # Safety of full loads: refuse a file that would remove more than this share of residents.
    max_removed_percent = models.PositiveSmallIntegerField(_("全件で消除できる上限(%)"), default=10)

    objects = TenantQuerySet.as_manager()
# The restriction tables live in their own module (docs/restrictions.md).
from .restrictions import (  # noqa: E402,F401
    IssuanceStopOrder,
    PersonalNoticeChallenge,
    PersonalNoticeRegistration,
    ProtectionPolicy,
    ServiceWindow,
    SupportMeasureRecord,
)
