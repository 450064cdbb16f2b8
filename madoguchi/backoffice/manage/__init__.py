"""The manager's screens: 公印 and 認証者, fees and campaigns, the business calendar, the catalog,
staff, provider credentials and the first-run checklist (docs/administration.md)."""
