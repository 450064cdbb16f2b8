from django import template

from madoguchi.core import money

register = template.Library()

register.filter("comma", money.comma)
