/**
 * The shapes of the viewer's sampling API, apart from its server (no Node.js imports), so
 * that the page reads them too.
 */
/** A sampling rule as the X-Ray API gives it (`SamplingRuleRecords[].SamplingRule`). */
export interface SamplingRule {
  /** 1 to 32 characters, unique. */
  RuleName: string
  /** The rule's ARN; made up locally when the file gives none. */
  RuleARN: string
  /** `*` for rules the SDKs use. */
  ResourceARN: string
  /** Lower goes first; 1 to 9999, 10000 for `Default`. */
  Priority: number
  /** Share of requests sampled after the reservoir, 0 to 1. */
  FixedRate: number
  /** Requests per second sampled before `FixedRate` applies. */
  ReservoirSize: number
  /** Wildcard on the segment's name. */
  ServiceName: string
  /** Wildcard on the segment's origin. */
  ServiceType: string
  /** Wildcard on the request's host. */
  Host: string
  /** Wildcard on the request's method. */
  HTTPMethod: string
  /** Wildcard on the request's path. */
  URLPath: string
  /** 1 for rules the SDKs use. */
  Version: number
  /** Attributes to match; the SDKs ignore rules that have any. */
  Attributes: Record<string, string>
  /** Adaptive sampling: how far X-Ray may raise the rate for a while when anomalies are reported. Never on `Default`. */
  SamplingRateBoost?: SamplingRateBoost
}

/** A rule's `SamplingRateBoost`: the most a boost may sample, and how often one may start. */
export interface SamplingRateBoost {
  /** The highest rate a boost applies, 0 to 1. */
  MaxRate: number
  /** At most one boost starts in each window of this many minutes (windows aligned to the epoch); 0 for no limit. */
  CooldownWindowMinutes: number
  /** Read by the ADOT SDKs: when true, HTTP 5xx is no longer an anomaly by default. */
  DisableDefaultAnomalyDetection?: boolean
}

/** One entry of `SamplingRuleRecords`. */
export interface SamplingRuleRecord {
  /** The rule. */
  SamplingRule: SamplingRule
  /** When it was created, epoch seconds. */
  CreatedAt: number
  /** When it was last changed, epoch seconds. */
  ModifiedAt: number
}

/** One element of a GetSamplingTargets request's `SamplingStatisticsDocuments`. */
export interface SamplingStatisticsDocument {
  /** The rule the counts are for. */
  RuleName: string
  /** The reporting SDK instance (24 hex characters from the SDKs). */
  ClientID: string
  /** When the counts were taken, as the client sent it (epoch seconds from the SDKs). */
  Timestamp: number | string
  /** Requests the rule matched. */
  RequestCount: number
  /** Requests it sampled. */
  SampledCount: number
  /** Requests sampled by borrowing from the reservoir, when sent. */
  BorrowCount?: number
}

/** One element of a GetSamplingTargets request's `SamplingBoostStatisticsDocuments`. */
export interface SamplingBoostStatisticsDocument {
  /** The rule the counts are for. */
  RuleName: string
  /** The reporting service (the segment name). */
  ServiceName: string
  /** When the counts were taken, as the client sent it (epoch seconds from the AWS SDKs, milliseconds from ADOT Java). */
  Timestamp: number
  /** Requests with an anomaly. */
  AnomalyCount: number
  /** Requests the rule was applied to. */
  TotalCount: number
  /** Requests with an anomaly that were sampled. */
  SampledAnomalyCount: number
}

/** What GetSamplingRules answers: every rule on one page (no `NextToken`). */
export interface SamplingRulesAnswer {
  /** The rules with their times. */
  SamplingRuleRecords: SamplingRuleRecord[]
}

/** One element of GetSamplingTargets' `SamplingTargetDocuments`. */
export interface SamplingTargetDocument {
  /** The rule. */
  RuleName: string
  /** Its rate. */
  FixedRate: number
  /** Requests per second this client may sample before the rate. */
  ReservoirQuota: number
  /** When the quota ends, epoch seconds. */
  ReservoirQuotaTTL: number
  /** Seconds until the next report. */
  Interval: number
  /** A boost in force for the rule; absent when none is (an SDK ends its boost then). */
  SamplingBoost?: SamplingBoost
}

/** A raised rate for a while (`SamplingTargetDocument.SamplingBoost`). */
export interface SamplingBoost {
  /** The rate to sample at, 0 to 1. */
  BoostRate: number
  /** When the boost ends, epoch seconds. */
  BoostRateTTL: number
}

/** A statistics document GetSamplingTargets did not take. */
export interface UnprocessedStatistics {
  /** The rule named in the document. */
  RuleName: string
  /** Why, as a code (`400` here: no such rule, or one without `SamplingRateBoost`). */
  ErrorCode: string
  /** Why, in words. */
  Message: string
}

/** What GetSamplingTargets answers. */
export interface SamplingTargetsAnswer {
  /** A target for each known rule reported. */
  SamplingTargetDocuments: SamplingTargetDocument[]
  /** When the rules last changed (were loaded), epoch seconds. */
  LastRuleModification: number
  /** The documents of unknown rules. */
  UnprocessedStatistics: UnprocessedStatistics[]
  /** The boost documents of unknown rules, or of rules without `SamplingRateBoost`. */
  UnprocessedBoostStatistics: UnprocessedStatistics[]
}

/** One GetSamplingTargets call as the viewer kept it. */
export interface SamplingReport {
  /** When it arrived, epoch milliseconds. */
  receivedAt: number
  /** The `ClientID` of its first document, or null when it had none. */
  clientId: string | null
  /** Its `SamplingStatisticsDocuments`. */
  documents: SamplingStatisticsDocument[]
  /** Its `SamplingBoostStatisticsDocuments` (empty when it sent none). */
  boostDocuments: SamplingBoostStatisticsDocument[]
  /** Who answered it: the viewer's rules, or the `--forward` daemon. */
  answeredBy: 'local' | 'forward'
}

/** Counts of the sampling API's use; see {@link SamplingService.snapshot}. */
export interface SamplingCounts {
  /** GetSamplingRules calls. */
  rulesRequests: number
  /** GetSamplingTargets calls. */
  targetsRequests: number
  /** Calls the `--forward` daemon answered. */
  forwarded: number
  /** Calls meant for the `--forward` daemon that were answered locally because it did not answer. */
  forwardFailures: number
  /** Why the last forwarded call failed, or null. */
  lastForwardError: string | null
  /** Requests refused: a bad route, method, body or shape. */
  rejected: number
  /** Reports no longer kept, the oldest dropped first. */
  reportsDropped: number
  /** Boost statistics documents received. */
  boostDocumentsReceived: number
  /** Boost documents left out of the totals, as the most rule and service pairs the viewer totals were already kept. */
  boostDocumentsNotTotalled: number
  /** Boosts started because boost statistics reported anomalies. */
  anomalyBoosts: number
  /** Boosts started with `POST /api/sampling/boost`. */
  manualBoosts: number
}

/** Sums of boost statistics documents. */
export interface SamplingBoostTotals {
  /** Documents summed. */
  documents: number
  /** Their `TotalCount`s. */
  TotalCount: number
  /** Their `AnomalyCount`s. */
  AnomalyCount: number
  /** Their `SampledAnomalyCount`s. */
  SampledAnomalyCount: number
  /** When the latest arrived, epoch milliseconds. */
  lastAt: number
}

/** A boost in force. */
export interface SamplingBoostInForce extends SamplingBoost {
  /** Why it started: boost statistics with anomalies, or `POST /api/sampling/boost`. */
  reason: 'anomalies' | 'manual'
  /** When it started, epoch seconds. */
  startedAt: number
}

/** Adaptive sampling of one rule, as `GET /api/sampling` shows it. */
export interface SamplingBoostStatus {
  /** The rule. */
  RuleName: string
  /** Its `SamplingRateBoost`, or null (no such rule is served, or it has none). */
  SamplingRateBoost: SamplingRateBoost | null
  /** The boost in force, or null. */
  boost: SamplingBoostInForce | null
  /** Epoch seconds until which anomalies start no boost (the end of the cooldown window of the last one they started), or null when they may. */
  cooldownUntil: number | null
  /** Totals of the boost statistics received for it. */
  totals: SamplingBoostTotals
  /** The same per `ServiceName`, by name. */
  services: Array<SamplingBoostTotals & {
    /** The reporting service. */
    ServiceName: string
  }>
}

/** What `GET /api/sampling` answers. */
export interface SamplingSnapshot {
  /** The rules answered locally, in priority order. */
  rules: SamplingRule[]
  /** Per rule with `SamplingRateBoost`, a boost in force or boost statistics received: its adaptive sampling, in rule order (others by name). */
  boosts: SamplingBoostStatus[]
  /** The `--forward` daemon's TCP address, whose answers pass through unchanged (no local boost), or null. */
  forward: string | null
  /** The reports kept, newest last. */
  reports: SamplingReport[]
  /** The counts so far. */
  counts: SamplingCounts
}
