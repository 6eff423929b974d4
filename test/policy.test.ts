import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, parsePolicy, wildcardMatch } from '../src/iam/policy.js';

const doc = (statements: object[]) => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }));
const STORE = 'arn:aws:omics:us-east-1:123456789012:sequenceStore/1234567890';

describe('policy evaluation', () => {
  it('matches IAM wildcards', () => {
    assert.ok(wildcardMatch('omics:Get*', 'omics:GetSequenceStore'));
    assert.ok(wildcardMatch('a?c', 'abc'));
    assert.ok(!wildcardMatch('a?c', 'ac'));
    assert.ok(wildcardMatch('*', ''));
    assert.ok(wildcardMatch('OMICS:get*', 'omics:GetX', true));
    assert.ok(!wildcardMatch('arn:*:x', 'arn:aws:y'));
  });

  it('denies by default, allows with an Allow, and an explicit Deny wins', () => {
    const req = { action: 'omics:GetSequenceStore', resource: STORE, context: {} };
    assert.equal(evaluate([], req).decision, 'ImplicitDeny');
    const allow = doc([{ Effect: 'Allow', Action: 'omics:*', Resource: '*' }]);
    assert.equal(evaluate([allow], req).decision, 'Allow');
    const deny = doc([{ Effect: 'Deny', Action: 'omics:GetSequenceStore', Resource: STORE }]);
    assert.equal(evaluate([allow, deny], req).decision, 'ExplicitDeny');
    assert.equal(evaluate([allow, deny], { ...req, action: 'omics:ListSequenceStores' }).decision, 'Allow');
  });

  it('honours NotAction and NotResource', () => {
    const p = doc([{ Effect: 'Allow', NotAction: 'omics:Delete*', NotResource: 'arn:aws:omics:*:*:referenceStore/*' }]);
    assert.equal(evaluate([p], { action: 'omics:GetSequenceStore', resource: STORE, context: {} }).decision, 'Allow');
    assert.equal(evaluate([p], { action: 'omics:DeleteSequenceStore', resource: STORE, context: {} }).decision, 'ImplicitDeny');
    assert.equal(
      evaluate([p], { action: 'omics:GetReferenceStore', resource: 'arn:aws:omics:us-east-1:1:referenceStore/2', context: {} }).decision,
      'ImplicitDeny',
    );
  });

  it('evaluates conditions: every key of every operator must hold; values are ORed', () => {
    const p = doc([
      {
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { StringEquals: { 'aws:username': ['alice', 'bob'], 'aws:RequestedRegion': 'us-east-1' }, IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } },
      },
    ]);
    const base = { action: 'omics:X', resource: STORE };
    const ok = { 'aws:username': 'bob', 'aws:RequestedRegion': 'us-east-1', 'aws:SourceIp': '127.0.0.1' };
    assert.equal(evaluate([p], { ...base, context: ok }).decision, 'Allow');
    assert.equal(evaluate([p], { ...base, context: { ...ok, 'aws:RequestedRegion': 'eu-west-1' } }).decision, 'ImplicitDeny');
    assert.equal(evaluate([p], { ...base, context: { ...ok, 'aws:SourceIp': '10.0.0.1' } }).decision, 'ImplicitDeny');
    assert.equal(evaluate([p], { ...base, context: { ...ok, 'aws:SourceIp': '::ffff:127.0.0.1' } }).decision, 'Allow');
    assert.equal(evaluate([p], { ...base, context: { 'aws:RequestedRegion': 'us-east-1', 'aws:SourceIp': '127.0.0.1' } }).decision, 'ImplicitDeny');
  });

  it('handles missing keys, IfExists, Null, negation and set operators', () => {
    const allowIf = (Condition: object) => doc([{ Effect: 'Allow', Action: '*', Resource: '*', Condition }]);
    const e = (p: ReturnType<typeof doc>, context: Record<string, string | string[]>) =>
      evaluate([p], { action: 'a:b', resource: 'r', context }).decision;
    assert.equal(e(allowIf({ StringNotEquals: { 'k:x': 'v' } }), {}), 'Allow', 'negated operator on a missing key holds');
    assert.equal(e(allowIf({ StringEqualsIfExists: { 'k:x': 'v' } }), {}), 'Allow');
    assert.equal(e(allowIf({ StringEqualsIfExists: { 'k:x': 'v' } }), { 'k:x': 'w' }), 'ImplicitDeny');
    assert.equal(e(allowIf({ Null: { 'k:x': 'true' } }), {}), 'Allow');
    assert.equal(e(allowIf({ Null: { 'k:x': 'false' } }), {}), 'ImplicitDeny');
    assert.equal(e(allowIf({ 'ForAnyValue:StringEquals': { 'k:t': ['a', 'z'] } }), { 'k:t': ['x', 'a'] }), 'Allow');
    assert.equal(e(allowIf({ 'ForAllValues:StringEquals': { 'k:t': ['a', 'b'] } }), { 'k:t': ['a', 'c'] }), 'ImplicitDeny');
    assert.equal(e(allowIf({ 'ForAllValues:StringEquals': { 'k:t': ['a', 'b'] } }), { 'k:t': ['a', 'b'] }), 'Allow');
    assert.equal(e(allowIf({ StringLike: { 'k:p': 'data/*' } }), { 'k:p': 'data/x/y' }), 'Allow');
    assert.equal(e(allowIf({ NumericLessThan: { 'k:n': '10' } }), { 'k:n': '9' }), 'Allow');
    assert.equal(e(allowIf({ DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } }), { 'aws:CurrentTime': '2026-01-01T00:00:00Z' }), 'Allow');
    assert.equal(e(allowIf({ Bool: { 'aws:SecureTransport': 'true' } }), { 'aws:SecureTransport': 'false' }), 'ImplicitDeny');
    assert.equal(e(allowIf({ ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:user/a*' } }), { 'aws:PrincipalArn': 'arn:aws:iam::1:user/alice' }), 'Allow');
  });

  it('substitutes policy variables in resources', () => {
    const p = doc([{ Effect: 'Allow', Action: '*', Resource: 'arn:aws:omics:*:*:sequenceStore/${aws:username}' }]);
    assert.equal(evaluate([p], { action: 'a', resource: 'arn:aws:omics:r:1:sequenceStore/42', context: { 'aws:username': '42' } }).decision, 'Allow');
    assert.equal(evaluate([p], { action: 'a', resource: 'arn:aws:omics:r:1:sequenceStore/43', context: { 'aws:username': '42' } }).decision, 'ImplicitDeny');
  });

  it('rejects malformed documents with a message that names the problem', () => {
    assert.throws(() => parsePolicy('{'), /not valid JSON/);
    assert.throws(() => parsePolicy('{"Statement":[]}'), /no Statement/);
    assert.throws(() => parsePolicy('{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}'), /Effect/);
    assert.throws(() => parsePolicy('{"Statement":[{"Effect":"Allow","Resource":"*"}]}'), /Action/);
    assert.throws(() => parsePolicy('{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringSorta":{}}}]}'), /StringSorta/);
    assert.throws(() => parsePolicy('{"Version":"2099-01-01","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'), /Version/);
    assert.throws(() => parsePolicy('{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}]}'), /Extra/);
  });
});
