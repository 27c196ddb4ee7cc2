@fhir
Feature: A patient's record as an EHR sends it (FHIR R4)
  jdm-cds reads FHIR R4 resources (a Bundle, or a Bulk Data export) into the same patient a
  patient file describes: every code through the mapping file, every quantity converted to
  the file's unit by its UCUM code. What the mapping does not know is listed as not read,
  never silently dropped; what cannot be read safely is refused, naming the resource.

  @study @cid.within_6_months
  Scenario: A study case sent as a FHIR Bundle is judged as its patient file is
    Given the FHIR bundle "features/fhir_study_cases/P01.json"
    When the FHIR record is evaluated
    Then no FHIR resource is listed as not read
    And cid.within_6_months is met
    And the FHIR record gives antibody anti-MDA5
    And the FHIR record gives the treatment plasma exchange from 2017-10-01 until 2018-07-03

  Scenario: Observations: laboratory values are converted to the patient file's units
    Given a FHIR record of patient "F-LAB" born 2010-05-14
    And the FHIR resources:
      | resource    | code              | display          | date       | value | unit    |
      | Observation | LOINC 2157-6      | CK               | 2020-07-20 | 1.5   | ukat/L  |
      | Observation | LOINC 1742-6      | ALT              | 2020-07-20 | 0.5   | ukat/L  |
      | Observation | LOINC 29463-7     | Body weight      | 2020-07-20 | 66    | [lb_av] |
      | Observation | jdm-cds cmas      | CMAS             | 2020-07-20 | 50    | {score} |
      | Observation | jdm-cds physician-global-vas | Physician global | 2020-07-20 | 5 | mm |
    When the FHIR record is evaluated
    Then the FHIR record gives the visits:
      | date       | CK (U/L) | ALT (U/L) | CMAS | physician global |
      | 2020-07-20 | 90       | 30        | 50   | 0.5              |
    And no FHIR resource is listed as not read

  Scenario: Observations: a myositis antibody by LOINC or by the lab's own name
    Given a FHIR record of patient "F-AB"
    And the FHIR resources:
      | resource    | code          | display                    | date       | value    |
      | Observation | LOINC 82424-3 | MDA5 Ab                    | 2020-01-10 | negative |
      | Observation | local NXP2-IB | Anti-NXP2 antibody (blot)  | 2020-01-10 | positive |
      | Observation | jdm-cds cmas  | CMAS                       | 2020-01-10 | 40       |
    When the FHIR record is evaluated
    Then the FHIR record gives antibody anti-NXP2

  @safety.zoster_risk
  Scenario: MedicationStatement with a product code, MedicationRequest by name
    Given a FHIR record of patient "F-MED"
    And the FHIR resources:
      | resource            | code           | display                     | date       | until      | value | unit    |
      | MedicationStatement | RxNorm 312617  | predniSONE 5 MG Oral Tablet | 2019-06-01 |            |       |         |
      | MedicationRequest   |                | Xeljanz (tofacitinib) 5 mg  | 2020-02-01 |            |       |         |
      | Observation         | jdm-cds cmas   | CMAS                        | 2020-03-01 |            | 45    | {score} |
    When the FHIR record is evaluated
    Then the FHIR record gives the treatment prednisone from 2019-06-01
    And the FHIR record gives the treatment tofacitinib from 2020-02-01
    And there is a warning alert "Herpes zoster risk on a JAK inhibitor"

  Scenario: MedicationAdministration: methylprednisolone pulses by name
    Given a FHIR record of patient "F-ADM"
    And the FHIR resources:
      | resource                 | code          | display            | date       | until      | value | unit    |
      | MedicationAdministration |               | methylprednisolone | 2019-04-01 | 2019-04-04 |       |         |
      | Observation              | jdm-cds cmas  | CMAS               | 2019-04-10 |            | 30    | {score} |
    When the FHIR record is evaluated
    Then the FHIR record gives the treatment methylprednisolone from 2019-04-01 until 2019-04-04

  Scenario: Procedure: plasma exchange by its CPT code
    Given a FHIR record of patient "F-PLEX"
    And the FHIR resources:
      | resource    | code         | display                         | date       | until      | value | unit    |
      | Procedure   | CPT 36514    | Therapeutic apheresis; plasma   | 2019-11-01 | 2020-05-01 |       |         |
      | Observation | jdm-cds cmas | CMAS                            | 2020-01-30 |            | 31    | {score} |
    When the FHIR record is evaluated
    Then the FHIR record gives the treatment plasma exchange from 2019-11-01 until 2020-05-01

  @safety.herpes_zoster_event
  Scenario: Condition: herpes zoster on the visit of its date; the JDM diagnosis is known
    Given a FHIR record of patient "F-HZ"
    And the FHIR resources:
      | resource            | code           | display                 | date       | value | unit    |
      | Condition           | SNOMED 1212005 | Juvenile dermatomyositis | 2019-01-15 |       |         |
      | MedicationStatement | RxNorm 1193326 | ruxolitinib             | 2020-02-01 |       |         |
      | Observation         | jdm-cds cmas   | CMAS                    | 2020-04-28 | 45    | {score} |
      | Condition           | SNOMED 4740000 | Herpes zoster           | 2020-04-28 |       |         |
    When the FHIR record is evaluated
    Then the FHIR record gives the visits:
      | date       | adverse events |
      | 2020-04-28 | herpes zoster  |
    And no FHIR resource is listed as not read
    And there is a warning alert "Herpes zoster reported" for the visit on 2020-04-28

  @safety.skin_abscess_event
  Scenario: AdverseEvent: a skin abscess by its name
    Given a FHIR record of patient "F-AE"
    And the FHIR resources:
      | resource            | code           | display      | date       | value | unit    |
      | MedicationStatement | RxNorm 2047232 | baricitinib  | 2020-02-01 |       |         |
      | Observation         | jdm-cds cmas   | CMAS         | 2020-03-10 | 45    | {score} |
      | AdverseEvent        |                | Skin abscess | 2020-03-10 |       |         |
    When the FHIR record is evaluated
    Then the FHIR record gives the visits:
      | date       | adverse events |
      | 2020-03-10 | skin abscess   |
    And there is a warning alert "Skin abscess reported"

  Scenario: Encounters and documents are set aside; an unknown code is listed, not dropped
    Given a FHIR record of patient "F-MISC"
    And the FHIR resources:
      | resource          | code          | display                 | date       | value | unit   |
      | Encounter         |               |                         |            |       |        |
      | DocumentReference |               | clinic letter           |            |       |        |
      | Observation       | LOINC 8480-6  | Systolic blood pressure | 2020-07-20 | 104   | mm[Hg] |
      | Observation       | jdm-cds cmas  | CMAS                    | 2020-07-20 | 50    |        |
    When the FHIR record is evaluated
    Then the FHIR record set aside 1 Encounter and 1 DocumentReference
    And the FHIR resource "Observation/r3" is listed as not read because "code not in the mapping"

  Scenario: Two CK values on one day: the last one counts, with a warning
    Given a FHIR record of patient "F-TWICE"
    And the FHIR resources:
      | resource    | id    | code         | display | date                 | value | unit |
      | Observation | ck-am | LOINC 2157-6 | CK      | 2020-07-20T08:00:00Z | 400   | U/L  |
      | Observation | ck-pm | LOINC 2157-6 | CK      | 2020-07-20T16:00:00Z | 140   | U/L  |
    When the FHIR record is evaluated
    Then the FHIR record gives the visits:
      | date       | CK (U/L) |
      | 2020-07-20 | 140      |
    And the FHIR record warns "the last (Observation/ck-pm) is used"

  @bad_input
  Scenario: A CK in a unit jdm-cds does not know is refused, naming the resource
    Given a FHIR record of patient "F-UNIT"
    And the FHIR resources:
      | resource    | code         | display | date       | value | unit  |
      | Observation | LOINC 2157-6 | CK      | 2020-07-20 | 3     | mg/dL |
    When the FHIR record is evaluated
    Then the FHIR record is rejected naming "Observation/r1" because "unknown unit 'mg/dL'"

  @bad_input
  Scenario: Another patient's resource mixed into the record is refused
    Given a FHIR record of patient "F-MINE"
    And the FHIR resources:
      | resource    | code         | display | date       | value | unit    | patient  |
      | Observation | jdm-cds cmas | CMAS    | 2020-07-20 | 50    | {score} |          |
      | Observation | jdm-cds cmas | CMAS    | 2020-07-20 | 20    | {score} | F-OTHER  |
    When the FHIR record is evaluated
    Then the FHIR record is rejected naming "Observation/r2" because "Patient/F-OTHER"

  @bad_input
  Scenario: An Observation without a status is not FHIR R4, and is refused
    Given a FHIR record of patient "F-STATUS"
    And the FHIR resources:
      | resource    | code         | display | date       | value | unit    | status |
      | Observation | jdm-cds cmas | CMAS    | 2020-07-20 | 50    | {score} | -      |
    When the FHIR record is evaluated
    Then the FHIR record is rejected naming "Observation/r1 status" because "invalid FHIR R4"

  @cohort
  Scenario: The study cases as FHIR Bundles reproduce the published results
    When the cohort "features/fhir_study_cases" is summarised
    Then the cohort summary shows:
      | measure                                    | value  |
      | patients                                   | 10     |
      | cid_within_6_months.n                      | 5      |
      | cid_within_6_months.by_antibody.anti-MDA5  | [2, 2] |
      | cid_within_6_months.by_antibody.anti-NXP2  | [3, 4] |
      | cid_within_6_months.by_antibody.anti-TIF1g | [0, 3] |
      | adverse_events.herpes_zoster               | 3      |

  @cohort
  Scenario: A Bulk Data export (NDJSON files) is read one patient at a time
    When the cohort "tests/data/fhir/bulk-export" is summarised
    Then the cohort summary shows:
      | measure                                   | value  |
      | patients                                  | 2      |
      | cid_within_6_months.by_antibody.anti-MDA5 | [2, 2] |
