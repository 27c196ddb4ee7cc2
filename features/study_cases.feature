@study
Feature: The study's ten cases, walked through their judgements
  Le Voyer et al. (Rheumatology 2021;60:5801-8) treated 10 children with JDM with a JAK
  inhibitor. The patient-level data are not public: the ten files in features/study_cases/
  are RECONSTRUCTIONS, built so that together they reproduce every published aggregate
  (features/study_cases/README.md lists them). They are not the real patients.

  @cid.within_6_months @response.acr_eular_2016 @safety.ifn_alpha_note
  Scenario Outline: The study's outcome for each case (<case>, <antibody>, <drug>)
    Given the study case <case>
    When the patient is evaluated
    Then cid.within_6_months is <cid>
    And cid.within_6_months has days_to_cid <days>
    And response.acr_eular_2016 has category <category>
    And there is an info alert "not a marker of response"

    Examples:
      | case | antibody   | drug        | cid     | days    | category |
      | P01  | anti-MDA5  | ruxolitinib | met     | 90      | major    |
      | P02  | anti-MDA5  | baricitinib | met     | 90      | major    |
      | P03  | anti-NXP2  | ruxolitinib | met     | 90      | major    |
      | P04  | anti-NXP2  | baricitinib | met     | 180     | major    |
      | P05  | anti-NXP2  | ruxolitinib | met     | 90      | major    |
      | P06  | anti-NXP2  | ruxolitinib | not met | unknown | minimal  |
      | P07  | anti-TIF1g | ruxolitinib | not met | unknown | major    |
      | P08  | anti-TIF1g | ruxolitinib | not met | unknown | moderate |
      | P09  | anti-TIF1g | baricitinib | not met | unknown | major    |
      | P10  | negative   | ruxolitinib | not met | unknown | moderate |

  @withdrawal.plasma_exchange @withdrawal.immunoadsorption @withdrawal.immunosuppressants
  Scenario Outline: Every responder could withdraw plasma exchange, immunoadsorption and other immunosuppressants (<case>, <procedure>)
    Given the study case <case>
    When the patient is evaluated on day <day>
    Then cid.printo_skin is met
    And withdrawal.<procedure> is met
    And there is a recommendation "Consider withdrawing <words>"

    Examples:
      | case | day | procedure        | words            |
      | P01  | 90  | plasma_exchange  | plasma exchange  |
      | P03  | 90  | plasma_exchange  | plasma exchange  |
      | P04  | 180 | immunoadsorption | immunoadsorption |
      | P05  | 90  | plasma_exchange  | plasma exchange  |
      | P01  | 90  | immunosuppressants | other immunosuppressants (methotrexate |
      | P02  | 90  | immunosuppressants | other immunosuppressants (methotrexate |
      | P03  | 90  | immunosuppressants | other immunosuppressants (mycophenolate |
      | P04  | 180 | immunosuppressants | other immunosuppressants (methotrexate |

  @withdrawal.plasma_exchange @withdrawal.immunoadsorption
  Scenario Outline: Without CID the procedure stays (<case>)
    Given the study case <case>
    When the patient is evaluated
    Then withdrawal.<procedure> is not met
    And there is no recommendation "Consider withdrawing"

    Examples:
      | case | procedure        |
      | P06  | plasma_exchange  |
      | P07  | immunoadsorption |

  @withdrawal.steroid_taper @withdrawal.steroid_stop
  Scenario Outline: Prednisone in the responders at the last visit (<case>: <dose> mg/kg/day)
    Given the study case <case>
    When the patient is evaluated
    Then withdrawal.steroid_taper is <taper>
    And withdrawal.steroid_stop is <stop>
    And withdrawal.steroid_taper has steroid_dose_now <dose>

    Examples:
      | case | dose | taper          | stop           |
      | P01  | 0    | not applicable | not applicable |
      | P02  | 0.1  | met            | met            |
      | P03  | 0.3  | met            | not met        |
      | P04  | 0    | not applicable | not applicable |
      | P05  | 0.1  | met            | met            |

  @withdrawal.steroid_taper
  Scenario: P06 improved only minimally: no steroid taper yet
    Given the study case P06
    When the patient is evaluated
    Then response.acr_eular_2016 has score 40
    And withdrawal.steroid_taper is not met

  @skin @cid.printo_skin
  Scenario: P07 meets PRINTO at 6 months, but active skin means no CID in the study's sense
    Given the study case P07
    When the patient is evaluated on day 180
    Then cid.printo is met
    And cid.printo_skin is not met
    And cid.p_cid is not met

  @window @cid.within_6_months @anti_tif1g.cid_after_6_months
  Scenario: P09 reaches CID at 9 months: too late for the study's outcome, and told so
    Given the study case P09
    When the patient is evaluated
    Then cid.printo_skin is met
    And cid.within_6_months is not met
    And there is a recommendation "reached only after the study's 6-month window"
    And there is no recommendation "without clinically inactive disease"

  @window @cid.within_6_months
  Scenario: P04 at 4 months: the window is still open, so no verdict yet
    Given the study case P04
    When the patient is evaluated on day 120
    Then cid.within_6_months is indeterminate because "window is still open"

  @safety.herpes_zoster_event @safety.skin_abscess_event
  Scenario Outline: The study's adverse events (<case>: <event>)
    Given the study case <case>
    When the patient is evaluated
    Then there is a warning alert "<event> reported" for the visit on day <day>
    And there is a warning alert "Herpes zoster risk on a JAK inhibitor"

    Examples:
      | case | event         | day |
      | P01  | Herpes zoster | 45  |
      | P06  | Herpes zoster | 180 |
      | P08  | Herpes zoster | 90  |
      | P02  | Skin abscess  | 45  |
      | P07  | Skin abscess  | 45  |

  @antibody
  Scenario: The antibody-negative case gets no antibody guidance
    Given the study case P10
    When the patient is evaluated
    Then there is no guidance

  @cohort
  Scenario: The cohort of the ten cases reproduces the published results
    When the cohort "features/study_cases" is summarised
    Then the cohort summary shows:
      | measure                                          | value       |
      | patients                                         | 10          |
      | cid_within_6_months.n                            | 5           |
      | cid_within_6_months.by_antibody.anti-MDA5        | [2, 2]      |
      | cid_within_6_months.by_antibody.anti-NXP2        | [3, 4]      |
      | cid_within_6_months.by_antibody.anti-TIF1g       | [0, 3]      |
      | cid_within_6_months.by_drug.ruxolitinib          | [3, 7]      |
      | cid_within_6_months.by_drug.baricitinib          | [2, 3]      |
      | steroid_mg_per_kg_day_in_cid.before_mean         | 1.1         |
      | steroid_mg_per_kg_day_in_cid.before_range        | [0.35, 2]   |
      | steroid_mg_per_kg_day_in_cid.after_mean          | 0.1         |
      | steroid_mg_per_kg_day_in_cid.after_range         | [0, 0.3]    |
      | steroid_mg_per_kg_day_in_cid.stopped             | 2           |
      | withdrawal_eligible.plasma_exchange              | 3           |
      | withdrawal_eligible.immunoadsorption             | 1           |
      | withdrawal_on_at_baseline_in_cid.plasma_exchange | 3           |
      | withdrawal_on_at_baseline_in_cid.immunoadsorption | 1          |
      | adverse_events.herpes_zoster                     | 3           |
      | adverse_events.skin_abscess                      | 2           |

  @cohort
  Scenario: The cohort of the ten cases holds the rest of the study's abstract
    The abstract: 9 refractory and 1 new-onset patients; main indications refractory muscle
    involvement (8) and ulcerative skin disease (2); ruxolitinib 7, baricitinib 3; all
    responders could withdraw plasma exchange, immunoadsorption and other immunosuppressive
    drugs; serum IFN-alpha high in all at the start, normalised in responders and
    non-responders alike; herpes zoster 3, skin abscesses 2; one repeat muscle biopsy.
    When the cohort "features/study_cases" is summarised
    Then the cohort summary shows:
      | measure                                                        | value   |
      | disease_course.refractory                                      | 9       |
      | disease_course.new_onset                                       | 1       |
      | indications.muscle                                             | 8       |
      | indications.skin_ulceration                                    | 2       |
      | jak_inhibitor.ruxolitinib                                      | 7       |
      | jak_inhibitor.baricitinib                                      | 3       |
      | every_responder_could_withdraw.plasma_exchange                 | true    |
      | every_responder_could_withdraw.immunoadsorption                | true    |
      | every_responder_could_withdraw.immunosuppressants              | true    |
      | withdrawal_on_at_baseline_in_cid.immunosuppressants            | 4       |
      | withdrawal_eligible_in_cid.immunosuppressants                  | 4       |
      | ifn_alpha_above_normal.at_jak_start                            | [10, 10] |
      | ifn_alpha_above_normal.within_normal_at_last_visit.responders  | [5, 5]  |
      | ifn_alpha_above_normal.within_normal_at_last_visit.non_responders | [5, 5] |
      | adverse_events.herpes_zoster                                   | 3       |
      | adverse_events.skin_abscess                                    | 2       |
      | findings.muscle_biopsy                                         | 1       |
