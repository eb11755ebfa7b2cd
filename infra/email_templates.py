"""SES templates of the sale reminder, one per locale (workers send template variables only)."""

from __future__ import annotations

from dataclasses import dataclass

TEMPLATE_SUFFIX = "sale-reminder"


@dataclass(frozen=True, kw_only=True)
class EmailTemplate:
    """Subject and bodies with SES `{{variable}}` placeholders."""

    subject: str
    html: str
    text: str


_EN_SUBJECT = "{{artistName}} tickets go on sale at {{saleTime}}"
_EN_TEXT = (
    "Get ready! {{artistName}}{{#if presaleName}} ({{presaleName}}){{/if}} at {{venueName}}, "
    "{{venueCity}} {{venueStateCode}} on {{eventDay}} {{eventDate}} {{eventTime}}.\n"
    "Tickets go on sale at {{saleTime}}: {{url}}\n"
)
_EN_HTML = (
    "<html><body><h1>{{artistName}}</h1>"
    "<p>{{#if presaleName}}{{presaleName}}: {{/if}}tickets go on sale at <strong>{{saleTime}}</strong>.</p>"
    "<p>{{venueName}}, {{venueCity}} {{venueStateCode}} &middot; {{eventDay}} {{eventDate}} {{eventTime}}</p>"
    '<p><a href="{{url}}">Get tickets with {{brand}}</a></p></body></html>'
)

TEMPLATES: dict[str, EmailTemplate] = {
    "en-us": EmailTemplate(subject=_EN_SUBJECT, html=_EN_HTML, text=_EN_TEXT),
    "en-ca": EmailTemplate(subject=_EN_SUBJECT, html=_EN_HTML, text=_EN_TEXT),
    "fr-ca": EmailTemplate(
        subject="Les billets pour {{artistName}} seront en vente à {{saleTime}}",
        text=(
            "Préparez-vous! {{artistName}}{{#if presaleName}} ({{presaleName}}){{/if}} à {{venueName}}, "
            "{{venueCity}} {{venueStateCode}} le {{eventDay}} {{eventDate}} {{eventTime}}.\n"
            "Mise en vente à {{saleTime}} : {{url}}\n"
        ),
        html=(
            "<html><body><h1>{{artistName}}</h1>"
            "<p>{{#if presaleName}}{{presaleName}} : {{/if}}"
            "mise en vente à <strong>{{saleTime}}</strong>.</p>"
            "<p>{{venueName}}, {{venueCity}} {{venueStateCode}} &middot; {{eventDay}} {{eventDate}} "
            "{{eventTime}}</p>"
            '<p><a href="{{url}}">Obtenez vos billets avec {{brand}}</a></p></body></html>'
        ),
    ),
}
