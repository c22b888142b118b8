export { describePoliciesIn, type DescribePoliciesOptions } from './describe-policies-in';
export { buildPolicyMap, type PolicyMapInput } from './build-policy-map';
export { entityNamesOf } from './entity-names';
export * from './policy-map';
