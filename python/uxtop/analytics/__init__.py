"""Analytics: funnels, health and usage series, correlation, anomalies, insights, alerts.

Headless (no textual import). Entry point: ``Analytics(cfg).update(batch, strings, flags)``,
then ``snapshot()`` for screens or ``to_report()``/``to_markdown()`` for ``uxtop report``.
"""

from uxtop.analytics.alerts import AlertEngine, AlertEvent
from uxtop.analytics.anomaly import Alarm, SeasonalDetector
from uxtop.analytics.config import (
    AlertRule,
    AnalyticsConfig,
    AnalyticsConfigError,
    AnomalyConfig,
    CorrelationConfig,
    ExclusionConfig,
    FunnelConfig,
    JourneyLink,
    StepConfig,
    load_analytics_config,
)
from uxtop.analytics.correlate import CorrelationLink, best_lag, deseasonalise, lagged_correlation
from uxtop.analytics.funnels import FunnelEngine, FunnelResult, FunnelStepResult, evaluate_unit
from uxtop.analytics.insights import Insight
from uxtop.analytics.live import (
    Analytics,
    AnalyticsSnapshot,
    AnomalyRecord,
    RouteHealth,
    SeriesTail,
)
from uxtop.analytics.rca import RootCause, adtributor, explain_cube

__all__ = [
    "Alarm",
    "AlertEngine",
    "AlertEvent",
    "AlertRule",
    "Analytics",
    "AnalyticsConfig",
    "AnalyticsConfigError",
    "AnalyticsSnapshot",
    "AnomalyConfig",
    "AnomalyRecord",
    "CorrelationConfig",
    "CorrelationLink",
    "ExclusionConfig",
    "FunnelConfig",
    "FunnelEngine",
    "FunnelResult",
    "FunnelStepResult",
    "Insight",
    "JourneyLink",
    "RootCause",
    "RouteHealth",
    "SeasonalDetector",
    "SeriesTail",
    "StepConfig",
    "adtributor",
    "best_lag",
    "deseasonalise",
    "evaluate_unit",
    "explain_cube",
    "lagged_correlation",
    "load_analytics_config",
]
