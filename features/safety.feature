@safety
Feature: Safety alerts on JAK inhibitors
  Herpes zoster was the study's safety signal (3 of 10 patients); skin abscesses occurred in
  2 of 10. Every patient on a JAK inhibitor gets a zoster warning, and each visit that
  reports herpes zoster or a skin abscess raises an adverse-event alert. Serum IFN-alpha
  fell in responders and non-responders alike: when it can be compared with baseline, a
  note says it is no marker of response.

  Background:
    Given a patient "SAFE"
    And the patient has antibody anti-MDA5

  @safety.zoster_risk
  Scenario Outline: A zoster warning for every patient on an active JAK inhibitor (<drug>)
    Given the patient is treated with <drug> from day 0
    And a visit on day 30 with CK 300
    When the patient is evaluated
    Then there is a warning alert "Herpes zoster risk on a JAK inhibitor"
    And there is an alert "Check varicella-zoster immunity and vaccination status"

    Examples:
      | drug         |
      | ruxolitinib  |
      | baricitinib  |
      | tofacitinib  |

  @safety.zoster_risk
  Scenario: No zoster warning once the JAK inhibitor has stopped
    Given the patient is treated with ruxolitinib from day 0 until day 100
    And a visit on day 150 with CK 300
    When the patient is evaluated
    Then there is no alert "Herpes zoster risk"

  @safety.herpes_zoster_event
  Scenario: Herpes zoster at a visit raises an adverse-event alert for that visit
    Given the patient is treated with ruxolitinib from 2020-01-01
    And the visits:
      | date       | CK (U/L) | adverse events |
      | 2020-02-15 | 300      | herpes zoster  |
      | 2020-04-01 | 200      |                |
    When the patient is evaluated
    Then there is a warning alert "Herpes zoster reported at the visit of 2020-02-15" for the visit on 2020-02-15
    And there is 1 alert "Herpes zoster reported"

  @safety.skin_abscess_event
  Scenario: Each visit with a skin abscess raises its own alert
    Given the patient is treated with baricitinib from day 0
    And the visits:
      | date    | CK (U/L) | adverse events             |
      | day 30  | 300      | skin abscess               |
      | day 60  | 250      |                            |
      | day 90  | 200      | skin abscess, herpes zoster |
    When the patient is evaluated
    Then there are 2 warning alerts "Skin abscess reported"
    And there is 1 alert "Herpes zoster reported"

  @safety.skin_abscess_event
  Scenario: An event after the evaluation date is not reported yet
    Given the patient is treated with baricitinib from day 0
    And the visits:
      | date    | CK (U/L) | adverse events |
      | day 30  | 300      |                |
      | day 90  | 200      | skin abscess   |
    When the patient is evaluated on day 60
    Then there are no alerts "Skin abscess"

  @safety.ifn_alpha_note
  Scenario: IFN-alpha compared with baseline: a note that it is no marker of response
    Given the patient is treated with ruxolitinib from day 0
    And the visits:
      | date    | CK (U/L) | IFN-alpha (fg/mL) |
      | day -2  | 900      | 1450              |
      | day 180 | 700      | 6                 |
    When the patient is evaluated
    Then there is an info alert "Serum IFN-alpha 1450 fg/mL at baseline, 6 fg/mL now: not a marker of response"
    And there is an alert "normalised in responders and non-responders alike"

  @safety.ifn_alpha_note
  Scenario: No IFN-alpha note without a baseline value to compare with
    Given the patient is treated with ruxolitinib from day 0
    And the visits:
      | date    | CK (U/L) | IFN-alpha (fg/mL) |
      | day -2  | 900      |                   |
      | day 180 | 700      | 6                 |
    When the patient is evaluated
    Then there is no alert "IFN-alpha"

  @safety.ifn_alpha_above_normal
  Scenario Outline: Serum IFN-alpha against the normal limit (an assumption of the pack: 50 fg/mL)
    Given the patient is treated with ruxolitinib from day 0
    And a visit on day 90 with CK 300<ifn>
    When the patient is evaluated
    Then safety.ifn_alpha_above_normal is <status>
    And safety.ifn_alpha_above_normal states the assumption "50 fg/mL"

    Examples:
      | ifn                    | status        |
      | , IFN-alpha 900        | met           |
      | , IFN-alpha 50         | not met       |
      | , IFN-alpha 6          | not met       |
      |                        | indeterminate |

  @safety.stale_data
  Scenario Outline: Data older than 90 days: a warning first, and every recommendation says how old (<age>)
    Given the patient is treated with ruxolitinib from day 0
    And the patient is treated with plasma exchange from day -120
    And the visits:
      | date   | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day -2 | 900      | 30   | 60   | 6                | 5        |
      | day 90 | 90       | 50   | 79   | 0.1              | 0        |
    When the patient is evaluated on <day>
    Then there are <alerts> warning alerts "days old: the evaluation visit of"
    And there are <recommendations> recommendations "(data <age> days old)"
    And there is a recommendation "Consider withdrawing plasma exchange"

    Examples:
      | day     | age | alerts | recommendations |
      | day 180 | 90  | no     | no              |
      | day 181 | 91  | 1      | 1               |
      | day 400 | 310 | 1      | 1               |
