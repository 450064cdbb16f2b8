"""`python manage.py line_richmenu <municipality code>`: create the rich menu, upload its image and
make it the account's default, through the Messaging API (or the emulator, with DEBUG)."""

from django.core.management.base import BaseCommand, CommandError
from linebot.v3.messaging import RichMenuRequest

from madoguchi.line import richmenu
from madoguchi.line.account import messaging_api, messaging_blob_api
from madoguchi.line.models import LineAccount


class Command(BaseCommand):
    help = "Create and upload the rich menu of a municipality's LINE official account and set it as default."

    def add_arguments(self, parser):
        parser.add_argument("code", help="地方公共団体コード")

    def handle(self, *args, code: str, **options):
        account = LineAccount.objects.select_related("municipality").filter(municipality__code=code).first()
        if account is None:
            raise CommandError(f"no LINE channel for municipality {code}")
        with messaging_api(account) as api:
            created = api.create_rich_menu(RichMenuRequest.from_dict(richmenu.definition()))
            with messaging_blob_api(account) as blob:
                blob.set_rich_menu_image(created.rich_menu_id, richmenu.image(),
                                         _headers={"Content-Type": "image/png"})
            api.set_default_rich_menu(created.rich_menu_id)
        self.stdout.write(f"rich menu {created.rich_menu_id} is the default of {account.municipality}")
