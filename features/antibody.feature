@antibody
Feature: Antibody-specific guidance from the built-in plugins
  Each myositis-specific antibody has a plugin: standing guidance for every patient with
  that antibody (with its source), and rules judged on the patient's data (alerts and
  recommendations). A patient with several antibodies gets each plugin's guidance; a
  patient who is antibody negative gets none.

  Background:
    Given a patient "AB"
    And the patient is treated with ruxolitinib from day 0
    And a visit on day 0 with CK 400, CMAS 30, MMT8 60, physician global 5, skin DAS 4

  Scenario Outline: Each antibody gets its own plugin's guidance (<antibody>)
    Given the patient has antibody <antibody>
    When the patient is evaluated
    Then there is <level> guidance "<text>" from "<plugin>"

    Examples:
      | antibody   | level   | text                                      | plugin         |
      | anti-MDA5  | warning | interstitial lung disease                 | anti_mda5      |
      | anti-NXP2  | warning | GI bleeding may signal gut vasculopathy   | anti_nxp2      |
      | anti-NXP2  | info    | calcinosis                                | anti_nxp2      |
      | anti-TIF1g | warning | low expected response to JAK inhibitors   | anti_tif1g     |
      | anti-TIF1g | info    | not established in children               | anti_tif1g     |
      | anti-Mi-2  | info    | usually responds well                     | anti_mi2       |
      | anti-SAE   | info    | muscle involvement may follow             | anti_sae       |
      | anti-SRP   | warning | necrotising myopathy                      | anti_srp_hmgcr |
      | anti-HMGCR | warning | necrotising myopathy                      | anti_srp_hmgcr |

  Scenario: The study's response figures come with the guidance of its three antibodies
    Given the patient has antibodies anti-MDA5 and anti-NXP2
    When the patient is evaluated
    Then there is guidance "2 of 2 reached inactive disease within 6 months" from "anti_mda5"
    And there is guidance "3 of 4 reached inactive disease within 6 months" from "anti_nxp2"
    And there is no guidance from "anti_tif1g"

  Scenario: An antibody-negative patient gets no antibody guidance
    Given the patient has antibody negative
    When the patient is evaluated
    Then there is no guidance

  @anti_mda5.dyspnoea @anti_mda5.ulcers
  Scenario: Anti-MDA5 with dyspnoea and ulcers at the evaluation visit
    Given the patient has antibody anti-MDA5
    And a visit on day 60 with CK 200, adverse events dyspnoea and oral ulcers
    When the patient is evaluated
    Then there is a critical alert "assess now for interstitial lung disease"
    And there is a warning alert "skin or oral ulcers"

  @anti_mda5.dyspnoea
  Scenario: Dyspnoea at an earlier visit does not raise the anti-MDA5 lung alert today
    Given the patient has antibody anti-MDA5
    And the visits:
      | date   | CK (U/L) | adverse events |
      | day 30 | 300      | dyspnoea       |
      | day 60 | 200      |                |
    When the patient is evaluated
    Then there is no alert "interstitial lung disease"

  @anti_nxp2.gi_warning_signs
  Scenario Outline: Anti-NXP2 with gastrointestinal warning signs is critical (<event>)
    Given the patient has antibody anti-NXP2
    And a visit on day 60 with CK 200, adverse events <event>
    When the patient is evaluated
    Then there is a critical alert "urgent assessment for GI vasculopathy"

    Examples:
      | event                     |
      | abdominal pain            |
      | gastrointestinal bleeding |

  @anti_nxp2.gi_warning_signs
  Scenario: Abdominal pain without anti-NXP2 raises no vasculopathy alert
    Given the patient has antibody anti-MDA5
    And a visit on day 60 with CK 200, adverse events abdominal pain
    When the patient is evaluated
    Then there is no alert "GI vasculopathy"

  @anti_nxp2.calcinosis
  Scenario: Calcinosis recorded in a patient with anti-NXP2
    Given the patient has antibody anti-NXP2
    And a visit on day 60 with CK 200, adverse events calcinosis
    When the patient is evaluated
    Then there is an info alert "Calcinosis recorded"

  @anti_tif1g.no_cid_by_3_months @anti_tif1g.no_cid_by_6_months
  Scenario Outline: Anti-TIF1g without CID at 3 and 6 months: reassess
    Given the patient has antibody anti-TIF1g
    And the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day 45  | 150      | 44   | 72   | 3                | 4        |
      | day 100 | 120      | 46   | 74   | 2.5              | 3        |
      | day 190 | 110      | 48   | 76   | 2                | 3        |
    When the patient is evaluated on <day>
    Then there are <three> recommendations "3 months into JAK-inhibitor treatment"
    And there are <six> recommendations "6 months into JAK-inhibitor treatment"

    Examples:
      | day     | three | six |
      | day 60  | no    | no  |
      | day 100 | 1     | no  |
      | day 190 | no    | 1   |

  @anti_tif1g.no_cid_by_3_months @anti_tif1g.cid_after_6_months
  Scenario Outline: Anti-TIF1g in CID after day 90: no card says otherwise (<when>)
    Given the patient has antibody anti-TIF1g
    And the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day 45  | 150      | 44   | 72   | 3                | 4        |
      | day 100 | 120      | 46   | 74   | 2.5              | 3        |
      | day 190 | 110      | 48   | 76   | 2                | 3        |
      | <day>   | 100      | 50   | 79   | 0.1              | 0        |
    When the patient is evaluated on <day>
    Then cid.printo_skin is met
    And cid.within_6_months is <window>
    And there is no recommendation "without clinically inactive disease"
    And there are <later> recommendations "reached only after the study's 6-month window"

    Examples:
      | when                      | day     | window  | later |
      | CID at day 120, in window | day 120 | met     | no    |
      | CID at day 263, too late  | day 263 | not met | 1     |

  @anti_tif1g.no_cid_by_3_months
  Scenario: Anti-TIF1g with CID in the first 3 months: no reassessment advised
    Given the patient has antibody anti-TIF1g
    And the visits:
      | date    | CK (U/L) | CMAS | MMT8 | physician global | skin DAS |
      | day 60  | 100      | 50   | 79   | 0.1              | 0        |
      | day 100 | 100      | 50   | 79   | 0.1              | 0        |
    When the patient is evaluated
    Then there is no recommendation "3 months into JAK-inhibitor treatment"

  @anti_mi2.outside_study @anti_sae.outside_study @anti_srp_hmgcr.outside_study
  Scenario Outline: Antibodies the study did not report on (<antibody>)
    Given the patient has antibody <antibody>
    When the patient is evaluated
    Then there is an info alert "the study's response figures do not cover"

    Examples:
      | antibody   |
      | anti-Mi-2  |
      | anti-SAE   |
      | anti-HMGCR |

  @anti_srp_hmgcr.very_high_ck
  Scenario Outline: Anti-SRP with very high CK (edge: above 1500 U/L)
    Given the patient has antibody anti-SRP
    And a visit on day 30 with CK <ck>
    When the patient is evaluated
    Then there are <alerts> warning alerts "active necrotising myopathy"

    Examples:
      | ck   | alerts |
      | 1500 | no     |
      | 1501 | 1      |
