@withdrawal
Feature: Withdrawal of plasma exchange, immunoadsorption and steroids
  At the evaluation visit, "CID now" is the study's CID (PRINTO and skin DAS = 0) while a
  JAK inhibitor is active. The thresholds are the rule pack's assumptions, drawn from the
  study's practice: plasma exchange and immunoadsorption can be withdrawn once CID is met;
  a steroid taper once CID is met or the response is at least moderate; stopping steroids
  once CID is sustained (this visit and the one before) on <= 0.2 mg/kg/day.
  Each eligible withdrawal comes with a recommendation.

  Background:
    Given a patient "WD"
    And the patient has antibody anti-NXP2
    And the patient is treated with ruxolitinib from day 0

  @withdrawal.plasma_exchange @withdrawal.plasma_exchange_recommendation
  Scenario Outline: Plasma exchange can be withdrawn once in CID (<why>)
    Given the patient is treated with plasma exchange from day -120 until <stop>
    And the visits:
      | date   | CK (U/L) | CMAS   | MMT8 | physician global | skin DAS |
      | day -2 | 900      | 30     | 60   | 6                | 5        |
      | day 90 | <ck>     | <cmas> | 79   | 0.1              | 0        |
    When the patient is evaluated
    Then withdrawal.plasma_exchange is <status>
    And there are <n> recommendations "Consider withdrawing plasma exchange"

    Examples:
      | ck  | cmas | stop     | status         | n  | why                                  |
      | 90  | 50   | day 365  | met            | 1  | CID now, on plasma exchange          |
      | 400 | 30   | day 365  | not met        | no | CK and CMAS still abnormal: no CID   |
      | 90  | 50   | day 60   | not applicable | no | plasma exchange already stopped      |

  @withdrawal.plasma_exchange_recommendation
  Scenario: The recommendation says since when and why
    Given the patient is treated with plasma exchange from 2019-09-01
    And day 0 is 2020-01-01
    And a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0
    When the patient is evaluated
    Then there is a recommendation "Consider withdrawing plasma exchange (first started 2019-09-01)"
    And there is a recommendation "JAK inhibitor started 2020-01-01"

  @withdrawal.immunoadsorption @withdrawal.immunoadsorption_recommendation
  Scenario: Immunoadsorption can be withdrawn once in CID
    Given the patient is treated with immunoadsorption from day -60
    And a visit on day 120 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0
    When the patient is evaluated
    Then withdrawal.immunoadsorption is met
    And withdrawal.plasma_exchange is not applicable
    And there is a recommendation "Consider withdrawing immunoadsorption"

  @withdrawal.immunoadsorption
  Scenario: Immunoadsorption stays while CID is not reached
    Given the patient is treated with immunoadsorption from day -60
    And a visit on day 120 with CK 400, CMAS 40, MMT8 70, physician global 2, skin DAS 3
    When the patient is evaluated
    Then withdrawal.immunoadsorption is not met
    And there is no recommendation "immunoadsorption"

  @withdrawal.steroid_taper @withdrawal.steroid_taper_recommendation
  Scenario Outline: Steroid taper: CID now, or at least moderate improvement (<why>)
    Given the visits:
      | date   | physician global | parent global | MMT8   | CMAS | CHAQ | CK (U/L) | extramuscular | skin DAS | prednisone (mg/kg/day) |
      | day -2 | 10               | 10            | 40     | 20   | 3    | 1000     | 10            | 5        | 1                      |
      | day 90 | <global>         | 10            | <mmt8> | 50   | 3    | <ck>     | 10            | <skin>   | <dose>                 |
    When the patient is evaluated
    Then withdrawal.steroid_taper is <status>
    And there are <n> recommendations "Consider tapering prednisone"

    Examples:
      | global | mmt8 | ck  | skin | dose | status         | n  | why                                   |
      | 0.1    | 79   | 90  | 0    | 0.5  | met            | 1  | CID now                               |
      | 4      | 56   | 600 | 3    | 0.5  | met            | 1  | no CID, moderate response (TIS 47.5)  |
      | 4      | 42   | 900 | 3    | 0.5  | not met        | no | no CID, minimal response (TIS 32.5)   |
      | 0.1    | 79   | 90  | 0    | 0    | not applicable | no | prednisone already stopped            |

  @withdrawal.steroid_taper @withdrawal.steroid_taper_recommendation
  Scenario: A dose in mg/day is divided by the weight of the same visit
    Given a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0, weight 32, prednisone (mg/day) 16
    When the patient is evaluated
    Then withdrawal.steroid_taper is met
    And withdrawal.steroid_taper has steroid_dose_now 0.5
    And there is a recommendation "now 0.5 mg/kg/day"

  @missing_data @withdrawal.steroid_taper @withdrawal.steroid_stop
  Scenario: A dose in mg/day without a weight: above 0 whatever the weight, but how far above is open
    Given a visit on day 60 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0, prednisone (mg/day) 20, weight 40
    And a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0, prednisone (mg/day) 16
    When the patient is evaluated
    Then withdrawal.steroid_taper is met
    And withdrawal.steroid_stop is indeterminate because "no weight is recorded at the visit"

  @missing_data @withdrawal.steroid_taper
  Scenario: A prednisone course without a dose, and no dose at the evaluation visit
    Given the patient is treated with prednisone from day -200
    And a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0
    When the patient is evaluated
    Then withdrawal.steroid_taper is indeterminate because "no dose recorded at the visit or on the course"

  @withdrawal.steroid_taper @withdrawal.steroid_stop
  Scenario: No prednisone course and no dose at the visit: the steroid questions do not arise
    Given a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0
    When the patient is evaluated
    Then withdrawal.steroid_taper is not applicable
    And withdrawal.steroid_stop is not applicable
    And withdrawal.steroid_taper has steroid_dose_now 0

  @withdrawal.steroid_taper @withdrawal.steroid_taper_recommendation
  Scenario: A dose given on the prednisone course fills a visit that records none, and says so
    Given the treatments:
      | drug       | start    | dose (mg/day) |
      | prednisone | day -200 | 10            |
    And a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0, weight 25
    When the patient is evaluated
    Then withdrawal.steroid_taper is met
    And withdrawal.steroid_taper has steroid_dose_now 0.4
    And withdrawal.steroid_taper has steroid_dose_source the prednisone course from 2019-06-15 (dose_mg_per_day 10, the visit records no dose) / weight 25 kg
    And there is a recommendation "now 0.4 mg/kg/day"

  @withdrawal.steroid_stop @withdrawal.steroid_stop_recommendation
  Scenario Outline: Stopping steroids: sustained CID on <= 0.2 mg/kg/day (<why>)
    Given the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS     | prednisone (mg/kg/day) |
      | day 90  | 90       | 50   | 79   | 0.1              | <skin_before> | 0.3                    |
      | day 180 | 90       | 50   | 79   | 0.1              | 0            | <dose>                 |
    When the patient is evaluated
    Then withdrawal.steroid_stop is <status>
    And there are <n> recommendations "Consider stopping prednisone"

    Examples:
      | skin_before | dose | status  | n  | why                                   |
      | 0           | 0.2  | met     | 1  | CID at both visits, dose at the edge  |
      | 0           | 0.21 | not met | no | dose just above 0.2                   |
      | 2           | 0.1  | not met | no | CID at this visit only                |

  @withdrawal.steroid_stop
  Scenario: With no earlier visit CID is not sustained
    Given a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0, prednisone (mg/kg/day) 0.1
    When the patient is evaluated
    Then withdrawal.steroid_stop is not met
    And withdrawal.steroid_taper is met

  @withdrawal.steroid_stop
  Scenario: The thresholds are labelled as the pack's assumptions
    Given the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS | prednisone (mg/kg/day) |
      | day 90  | 90       | 50   | 79   | 0.1              | 0        | 0.3                    |
      | day 180 | 90       | 50   | 79   | 0.1              | 0        | 0.2                    |
    When the patient is evaluated
    Then withdrawal.steroid_stop states the assumption "dose is already <= 0.2 mg/kg/day"
    And withdrawal.plasma_exchange states the assumption "once CID is met on the JAK inhibitor"

  @withdrawal.immunosuppressants @withdrawal.immunosuppressants_recommendation
  Scenario Outline: Other immunosuppressants can be withdrawn once in CID (<why>)
    Given the treatments:
      | drug       | start    | stop   |
      | <drug>     | day -300 | <stop> |
    And the visits:
      | date   | CK (U/L) | CMAS   | MMT8 | physician global | skin DAS |
      | day -2 | 900      | 30     | 60   | 6                | 5        |
      | day 90 | <ck>     | <cmas> | 79   | 0.1              | 0        |
    When the patient is evaluated
    Then withdrawal.immunosuppressants is <status>
    And there are <n> recommendations "Consider withdrawing other immunosuppressants (<drug> from"

    Examples:
      | drug          | ck  | cmas | stop    | status         | n  | why                                      |
      | methotrexate  | 90  | 50   |         | met            | 1  | CID now, on methotrexate                 |
      | mycophenolate | 90  | 50   |         | met            | 1  | CID now, on mycophenolate                |
      | methotrexate  | 400 | 30   |         | not met        | no | CK and CMAS still abnormal: no CID       |
      | methotrexate  | 90  | 50   | day 60  | not applicable | no | methotrexate already stopped             |
      | ivig          | 90  | 50   |         | not applicable | no | IVIG is not counted (pack's assumption)  |

  @withdrawal.immunosuppressants
  Scenario: The judgement names each active immunosuppressant with its start
    Given the treatments:
      | drug         | start    |
      | methotrexate | day -300 |
      | ciclosporin  | day -100 |
    And a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0
    When the patient is evaluated
    Then withdrawal.immunosuppressants is met
    And withdrawal.immunosuppressants has immunosuppressants_now ["methotrexate from 2019-03-07", "ciclosporin from 2019-09-23"]
    And withdrawal.immunosuppressants states the assumption "not counted"
