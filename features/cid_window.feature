@window @cid.within_6_months
Feature: Clinically inactive disease within 6 months of the JAK-inhibitor start
  The study's outcome: CID (PRINTO and skin DAS = 0) at any visit from the first
  JAK-inhibitor start (day 0) to day 183, both inclusive, among the visits on or before the
  evaluation date. Until the window has closed with every visit's CID known, "no CID" is
  not concluded: the judgement stays indeterminate and says why.

  Background:
    Given a patient "WINDOW"
    And the patient has antibody anti-MDA5

  Scenario Outline: The window's edges: day 0 and day 183 are in, day 184 is out (<why>)
    Given the patient is treated with ruxolitinib from day 0
    And the visits:
      | date   | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day -3 | 900      | 30   | 60   | 6                | 5        |
      | day 60 | 400      | 40   | 70   | 3                | 3        |
      | <day>  | 90       | 50   | 79   | 0.1              | 0        |
    When the patient is evaluated
    Then cid.within_6_months is <status>
    And cid.within_6_months has days_to_cid <days>

    Examples:
      | day     | status  | days    | why                              |
      | day 0   | met     | 0       | CID on the day of the start      |
      | day 120 | met     | 120     | CID at 4 months                  |
      | day 183 | met     | 183     | last day of the window           |
      | day 184 | not met | unknown | first day after the window       |

  Scenario: The first CID visit in the window gives the days to CID
    Given the patient is treated with baricitinib from 2021-03-15
    And the visits:
      | date       | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | 2021-03-12 | 900      | 30   | 60   | 6                | 5        |
      | 2021-05-14 | 90       | 50   | 79   | 0.1              | 0        |
      | 2021-08-02 | 80       | 52   | 80   | 0                | 0        |
    When the patient is evaluated
    Then cid.within_6_months is met
    And cid.within_6_months has days_to_cid 60

  Scenario Outline: No CID yet while the window is open: indeterminate, not "no" (<day>)
    Given the patient is treated with ruxolitinib from day 0
    And the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day 0   | 900      | 30   | 60   | 6                | 5        |
      | day 90  | 400      | 40   | 70   | 3                | 3        |
    When the patient is evaluated on <day>
    Then cid.within_6_months is <status>

    Examples:
      | day     | status        |
      | day 182 | indeterminate |
      | day 183 | not met       |

  Scenario: The open window is given as the reason
    Given the patient is treated with ruxolitinib from day 0
    And a visit on day 30 with CK 400, CMAS 40, MMT8 70, physician global 3, skin DAS 3
    When the patient is evaluated
    Then cid.within_6_months is indeterminate because "window is still open"

  @missing_data
  Scenario: No visit inside the window: the outcome cannot be judged
    Given the patient is treated with ruxolitinib from day 0
    And the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day -10 | 900      | 30   | 60   | 6                | 5        |
      | day 200 | 90       | 50   | 79   | 0.1              | 0        |
    When the patient is evaluated
    Then cid.within_6_months is indeterminate because "no visit between the JAK-inhibitor start and day 183"

  @missing_data
  Scenario: A window visit with CID undecidable keeps the outcome open
    Given the patient is treated with ruxolitinib from day 0
    And the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day 0   | 900      | 30   | 60   | 6                | 5        |
      | day 90  | 90       | -    | -    | 0.1              | 0        |
      | day 200 | 400      | 40   | 70   | 3                | 3        |
    When the patient is evaluated
    Then cid.within_6_months is indeterminate because "indeterminate (data missing) at a visit"

  Scenario: CID before the JAK inhibitor does not count
    Given the patient is treated with ruxolitinib from day 0
    And the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day -30 | 90       | 50   | 79   | 0.1              | 0        |
      | day 90  | 400      | 40   | 70   | 3                | 3        |
      | day 190 | 300      | 42   | 72   | 2                | 2        |
    When the patient is evaluated
    Then cid.within_6_months is not met

  Scenario: Without a JAK inhibitor the question does not arise
    Given the patient is treated with methotrexate from day -300
    And a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0
    When the patient is evaluated
    Then cid.within_6_months is not applicable
    And cid.printo_skin is met

  Scenario: The window is an assumption of the rule pack, and says so
    Given the patient is treated with ruxolitinib from day 0
    And a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0
    When the patient is evaluated
    Then cid.within_6_months is met
    And cid.within_6_months states the assumption "day 183, both inclusive"
    And cid.within_6_months cites "Le Voyer"
