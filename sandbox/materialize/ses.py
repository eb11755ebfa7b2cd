"""SES (v1) email templates."""

from __future__ import annotations

from sandbox.materialize.api_shapes import compact
from sandbox.materialize.results import Kind
from sandbox.materialize.step import Step


def create_email_template(step: Step) -> dict[str, str]:
    """A template with its subject, HTML and text parts, read back and verified."""
    inputs, ses = step.inputs, step.client("ses")
    name = step.physical_name()
    template = compact(
        TemplateName=name,
        SubjectPart=inputs.get("subject"),
        HtmlPart=inputs.get("html"),
        TextPart=inputs.get("text"),
    )
    ses.create_template(Template=template)
    step.verify(template, ses.get_template(TemplateName=name)["Template"])
    arn = step.run.references.mock_outputs(step.resource)["arn"]  # SES v1 reports no template ARN
    step.record(Kind.EMAIL_TEMPLATE, name, arn)
    return {"id": name}
