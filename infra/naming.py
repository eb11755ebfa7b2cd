"""Resource names and tags: one convention for every resource of the fleet."""

from __future__ import annotations

from dataclasses import dataclass

PRODUCT_CODE = "prd3292"
PRODUCT_NAME = "demand-capture"
SHORT_NAME = "dmnd"
REPOSITORY = "demand-capture/dmd-workers"


@dataclass(frozen=True, kw_only=True)
class Naming:
    """Names `prd3292-{env}-{region}-{suffix}` and the tags every taggable resource carries."""

    environment: str
    region: str

    @property
    def prefix(self) -> str:
        return f"{PRODUCT_CODE}-{self.environment}-{self.region}"

    def name(self, suffix: str) -> str:
        """Regional resource name, e.g. `prd3292-qa1-us-east-1-ntfcn-snd`."""
        return f"{self.prefix}-{suffix}"

    def global_name(self, suffix: str) -> str:
        """Environment-wide name without the region, e.g. `prd3292-qa1-dmnd-table-stream`."""
        return f"{PRODUCT_CODE}-{self.environment}-{suffix}"

    def log_group(self, function_name: str) -> str:
        return f"/aws/lambda/{function_name}"

    def tags(self, inventory_code: str = SHORT_NAME) -> dict[str, str]:
        """Tags for a resource owned by `inventory_code` (a worker's code, or the platform's)."""
        return {
            "ProductCode": PRODUCT_CODE.upper(),
            "ProductName": PRODUCT_NAME,
            "Environment": self.environment,
            "InventoryCode": inventory_code,
            "Repository": REPOSITORY,
            "ManagedBy": "pulumi",
        }
