@cid
Feature: Clinically inactive disease at a visit
  PRINTO (Lazarevic 2013): at least 3 of 4 criteria: CK <= 150 U/L, CMAS >= 48 (of 52),
  MMT8 >= 78 (of 80), physician global activity <= 0.2 cm. Every edge is inclusive.
  P-CID (Almeida 2015): physician global <= 0.2 is mandatory, plus 2 of the other 3.
  The study's CID: PRINTO and skin DAS = 0 (the rule pack's assumption: the study does not
  publish its skin threshold).
  Missing data never counts as a failed criterion.

  Background:
    Given a patient "CID"
    And the patient has antibody anti-NXP2
    And the patient is treated with ruxolitinib from day 0

  @printo @cid.printo
  Scenario Outline: PRINTO at the edge of each criterion (<why>)
    Given the visits:
      | date   | CK (U/L) | CMAS   | MMT8   | physician global | skin DAS |
      | day 90 | <ck>     | <cmas> | <mmt8> | <global>         | 0        |
    When the patient is evaluated
    Then cid.printo is <printo>

    Examples:
      | ck  | cmas | mmt8 | global | printo  | why                                         |
      | 150 | 48   | 78   | 0.2    | met     | every criterion exactly at its edge         |
      | 151 | 48   | 78   | 0.2    | met     | CK just over the edge, 3 of 4 remain        |
      | 150 | 47   | 78   | 0.21   | not met | CMAS and physician global just over         |
      | 151 | 48   | 77   | 0.2    | not met | CK and MMT8 just over                       |
      | 100 | 52   | 80   | 0.3    | met     | physician global is not mandatory in PRINTO |

  @printo @missing_data @cid.printo
  Scenario: Three criteria met and one not measured: PRINTO is already met
    Given the visits:
      | date   | CK (U/L) | CMAS | MMT8 | physician global |
      | day 90 | 100      | 50   | -    | 0.1              |
    When the patient is evaluated
    Then cid.printo is met

  @printo @missing_data @cid.printo
  Scenario: Two criteria met and two not measured: PRINTO is indeterminate, not failed
    Given the visits:
      | date   | CK (U/L) | CMAS |
      | day 90 | 100      | 50   |
    When the patient is evaluated
    Then cid.printo is indeterminate
    And cid.printo is missing MMT8 and physician global

  @printo @missing_data @cid.printo
  Scenario: Two criteria failed and two not measured: PRINTO is already not met
    Given a visit on day 90 with CK 400, CMAS 30
    When the patient is evaluated
    Then cid.printo is not met

  @p_cid @cid.p_cid
  Scenario Outline: P-CID: physician global is mandatory (<why>)
    Given a visit on day 90 with CK <ck>, CMAS <cmas>, MMT8 <mmt8>, physician global <global>
    When the patient is evaluated
    Then cid.p_cid is <p_cid>
    And cid.printo is <printo>

    Examples:
      | ck  | cmas | mmt8 | global | p_cid   | printo  | why                                          |
      | 150 | 48   | 70   | 0.2    | met     | met     | global at its edge, 2 of the other 3         |
      | 100 | 50   | 80   | 0.3    | not met | met     | global over 0.2: P-CID fails, PRINTO holds   |
      | 200 | 40   | 80   | 0.2    | not met | not met | global inactive but only 1 of the other 3    |

  @p_cid @missing_data @cid.p_cid
  Scenario: Without a physician global P-CID stays open while PRINTO is met
    Given a visit on day 90 with CK 90, CMAS 50, MMT8 79
    When the patient is evaluated
    Then cid.printo is met
    And cid.p_cid is indeterminate
    And cid.p_cid is missing physician global
    And cid.p_cid cites "Almeida"

  @skin @cid.printo_skin
  Scenario Outline: The study's CID also needs skin DAS = 0 (<why>)
    Given the visits:
      | date   | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day 90 | <ck>     | 50   | 79   | 0.1              | <skin>   |
    When the patient is evaluated
    Then cid.printo_skin is <status>

    Examples:
      | ck  | skin | status        | why                                   |
      | 90  | 0    | met           | PRINTO met and no skin activity       |
      | 90  | 1    | not met       | PRINTO met but skin still active      |
      | 90  | -    | indeterminate | PRINTO met, skin DAS not recorded     |

  @skin @cid.printo_skin
  Scenario: The study's CID states its assumption and its sources
    Given a visit on day 90 with CK 90, CMAS 50, MMT8 79, physician global 0.1, skin DAS 0
    When the patient is evaluated
    Then cid.printo_skin is met
    And cid.printo_skin states the assumption "skin DAS = 0"
    And cid.printo_skin cites "Le Voyer"
    And cid.printo_skin cites "PRINTO"

  @skin @missing_data @cid.printo_skin
  Scenario: Skin DAS recorded but PRINTO undecided: the study's CID stays open
    Given a visit on day 90 with CK 90, CMAS 50, skin DAS 0
    When the patient is evaluated
    Then cid.printo_skin is indeterminate
    And cid.printo_skin is missing MMT8 and physician global

  @printo @cid.printo
  Scenario: The evaluation date picks the visit that is judged
    Given the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day 45  | 300      | 40   | 70   | 2.5              | 3        |
      | day 120 | 90       | 50   | 79   | 0.1              | 0        |
    When the patient is evaluated on day 100
    Then the evaluation visit is day 45
    And cid.printo is not met
