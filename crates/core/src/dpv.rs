//! The W3C Data Privacy Vocabulary purposes (P-79): the values a `dpv:` scope may name.
//!
//! Source: DPV 2.0, purposes module (`https://w3id.org/dpv/2.0`, `dpv/modules/purposes.csv` in
//! github.com/w3c/dpv): every class below `dpv:Purpose`. CAMARA ICM main points at DPV 2.3,
//! whose purposes module is a superset; a purpose added after 2.0 is not known here yet.

pub const DPV_PURPOSES: &[&str] = &[
    "AcademicResearch",
    "AccountManagement",
    "Advertising",
    "AgeVerification",
    "CombatClimateChange",
    "CommercialPurpose",
    "CommercialResearch",
    "CommunicationForCustomerCare",
    "CommunicationManagement",
    "CounterMoneyLaundering",
    "Counterterrorism",
    "CreditChecking",
    "CustomerCare",
    "CustomerClaimsManagement",
    "CustomerManagement",
    "CustomerOrderManagement",
    "CustomerRelationshipManagement",
    "CustomerSolvencyMonitoring",
    "DataAltruism",
    "DeliveryOfGoods",
    "DirectMarketing",
    "DisputeManagement",
    "EnforceAccessControl",
    "EnforceSecurity",
    "EstablishContractualAgreement",
    "FraudPreventionAndDetection",
    "FulfilmentOfContractualObligation",
    "FulfilmentOfObligation",
    "HumanResourceManagement",
    "IdentityAuthentication",
    "IdentityVerification",
    "ImproveExistingProductsAndServices",
    "ImproveHealthcare",
    "ImproveInternalCRMProcesses",
    "ImprovePublicServices",
    "ImproveTransportMobility",
    "IncreaseServiceRobustness",
    "InternalResourceOptimisation",
    "LegalCompliance",
    "MaintainCreditCheckingDatabase",
    "MaintainCreditRatingDatabase",
    "MaintainFraudDatabase",
    "Marketing",
    "MemberPartnerManagement",
    "MisusePreventionAndDetection",
    "NonCommercialPurpose",
    "NonCommercialResearch",
    "OptimisationForConsumer",
    "OptimisationForController",
    "OptimiseUserInterface",
    "OrganisationComplianceManagement",
    "OrganisationGovernance",
    "OrganisationRiskManagement",
    "PaymentManagement",
    "Personalisation",
    "PersonalisedAdvertising",
    "PersonalisedBenefits",
    "PersonnelHiring",
    "PersonnelManagement",
    "PersonnelPayment",
    "ProtectionOfIPR",
    "ProtectionOfNationalSecurity",
    "ProtectionOfPublicSecurity",
    "ProvideEventRecommendations",
    "ProvideOfficialStatistics",
    "ProvidePersonalisedRecommendations",
    "ProvideProductRecommendations",
    "PublicBenefit",
    "PublicPolicyMaking",
    "PublicRelations",
    "RecordManagement",
    "RepairImpairments",
    "RequestedServiceProvision",
    "ResearchAndDevelopment",
    "RightsFulfillment",
    "ScientificResearch",
    "SearchFunctionalities",
    "SellDataToThirdParties",
    "SellInsightsFromData",
    "SellProducts",
    "SellProductsToDataSubject",
    "ServiceOptimisation",
    "ServicePersonalisation",
    "ServiceProvision",
    "ServiceRegistration",
    "ServiceUsageAnalytics",
    "SocialMediaMarketing",
    "TargetedAdvertising",
    "TechnicalServiceProvision",
    "UserInterfacePersonalisation",
    "VendorManagement",
    "VendorPayment",
    "VendorRecordsManagement",
    "VendorSelectionAssessment",
    "Verification",
];

/// Whether `dpv:<Name>` names a DPV purpose.
pub fn is_known_purpose(scope: &str) -> bool {
    scope.strip_prefix("dpv:").is_some_and(|n| DPV_PURPOSES.binary_search(&n).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_for_binary_search() {
        assert!(DPV_PURPOSES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn p79_known_purposes() {
        assert!(is_known_purpose("dpv:FraudPreventionAndDetection"));
        assert!(is_known_purpose("dpv:IdentityVerification"));
        assert!(!is_known_purpose("dpv:Purpose"), "the root class is not a purpose to declare");
        assert!(!is_known_purpose("dpv:FraudPrevention"));
        assert!(!is_known_purpose("FraudPreventionAndDetection"));
        assert!(!is_known_purpose("dpv:fraudpreventionanddetection"), "case-sensitive (P-02)");
    }
}
