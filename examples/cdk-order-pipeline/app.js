// The order pipeline of seed 000 ("Event-Driven Architectures with AWS SNS/SQS"), as a CDK app:
// two stacks, so the assembly carries a cross-stack reference (Export / Fn::ImportValue).
//
//   OrderEvents    the order topic (encrypted with the stack's own KMS key), a FIFO ledger topic
//   OrderPipeline  the queues, their dead-letter queues, the filtered subscriptions, a Lambda
//                  subscriber and an alarm on a dead-letter queue
//
// Synthesized offline (`npx cdk synth --no-lookups`), then `lyrebird --init cdk.out`.
// lyrebird creates the topics, queues, policies and subscriptions; the key, the function, its
// role and the alarm get stand-in values (lyrebird does not provision them).
const cdk = require('aws-cdk-lib');
const sns = require('aws-cdk-lib/aws-sns');
const sqs = require('aws-cdk-lib/aws-sqs');
const subs = require('aws-cdk-lib/aws-sns-subscriptions');
const kms = require('aws-cdk-lib/aws-kms');
const lambda = require('aws-cdk-lib/aws-lambda');
const cloudwatch = require('aws-cdk-lib/aws-cloudwatch');

class OrderEvents extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    const key = new kms.Key(this, 'TopicKey', { description: 'order events' });
    this.topic = new sns.Topic(this, 'OrderEventsTopic', {
      topicName: 'order-events',
      displayName: 'Order Processing Events',
      masterKey: key,
    });
    this.ledger = new sns.Topic(this, 'LedgerTopic', {
      topicName: 'order-ledger.fifo',
      fifo: true,
      contentBasedDeduplication: true,
    });
  }
}

class OrderPipeline extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    const { topic, ledger } = props;

    const withDlq = (name, maxReceiveCount) => {
      const dlq = new sqs.Queue(this, `${name}DLQ`, {
        queueName: `${kebab(name)}-dlq`,
        retentionPeriod: cdk.Duration.days(14),
        enforceSSL: true,
      });
      const queue = new sqs.Queue(this, `${name}Queue`, {
        queueName: kebab(name),
        visibilityTimeout: cdk.Duration.seconds(300),
        deadLetterQueue: { queue: dlq, maxReceiveCount },
        enforceSSL: true,
      });
      return { queue, dlq };
    };

    const critical = withDlq('CriticalOrders', 3);
    const standard = withDlq('StandardOrders', 5);
    // Left unnamed: CloudFormation names it OrderPipeline-LargeOrdersQueue….
    const large = new sqs.Queue(this, 'LargeOrdersQueue');
    const cancelled = new sqs.Queue(this, 'CancelledOrdersQueue', { queueName: 'cancelled-orders' });
    const vip = new sqs.Queue(this, 'VipOrdersQueue', { queueName: 'vip-orders' });
    const ledgerQueue = new sqs.Queue(this, 'LedgerQueue', {
      queueName: 'order-ledger.fifo',
      fifo: true,
    });

    // Routing by message attributes: string, numeric and exists filters.
    topic.addSubscription(new subs.SqsSubscription(critical.queue, {
      rawMessageDelivery: true,
      filterPolicy: { priority: sns.SubscriptionFilter.stringFilter({ allowlist: ['HIGH'] }) },
    }));
    topic.addSubscription(new subs.SqsSubscription(standard.queue, {
      rawMessageDelivery: true,
      filterPolicy: {
        priority: sns.SubscriptionFilter.stringFilter({ allowlist: ['MEDIUM', 'LOW'] }),
      },
    }));
    topic.addSubscription(new subs.SqsSubscription(large, {
      rawMessageDelivery: true,
      filterPolicy: { amount: sns.SubscriptionFilter.numericFilter({ greaterThanOrEqualTo: 1000 }) },
    }));
    topic.addSubscription(new subs.SqsSubscription(vip, {
      rawMessageDelivery: true,
      filterPolicy: { vip: sns.SubscriptionFilter.existsFilter() },
    }));
    // Routing by the message body.
    topic.addSubscription(new subs.SqsSubscription(cancelled, {
      rawMessageDelivery: true,
      filterPolicyWithMessageBody: {
        status: sns.FilterOrPolicy.filter(sns.SubscriptionFilter.stringFilter({ allowlist: ['CANCELLED'] })),
      },
    }));
    ledger.addSubscription(new subs.SqsSubscription(ledgerQueue, { rawMessageDelivery: true }));

    // A function subscribed to the topic, and an alarm on the critical dead-letter queue:
    // lyrebird stands in for both.
    const notifier = new lambda.Function(this, 'Notifier', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {};'),
    });
    topic.addSubscription(new subs.LambdaSubscription(notifier, {
      filterPolicy: { priority: sns.SubscriptionFilter.stringFilter({ allowlist: ['HIGH'] }) },
    }));
    new cloudwatch.Alarm(this, 'CriticalDlqAlarm', {
      metric: critical.dlq.metricApproximateNumberOfMessagesVisible(),
      threshold: 1,
      evaluationPeriods: 1,
    });

    const output = (name, value) => new cdk.CfnOutput(this, name, { value });
    output('OrderEventsTopicArn', topic.topicArn);
    output('LedgerTopicArn', ledger.topicArn);
    output('CriticalOrdersQueueUrl', critical.queue.queueUrl);
    output('CriticalOrdersDLQUrl', critical.dlq.queueUrl);
    output('StandardOrdersQueueUrl', standard.queue.queueUrl);
    output('StandardOrdersDLQUrl', standard.dlq.queueUrl);
    output('LargeOrdersQueueUrl', large.queueUrl);
    output('CancelledOrdersQueueUrl', cancelled.queueUrl);
    output('VipOrdersQueueUrl', vip.queueUrl);
    output('LedgerQueueUrl', ledgerQueue.queueUrl);
    output('NotifierArn', notifier.functionArn);
  }
}

function kebab(name) {
  return name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
}

const app = new cdk.App();
const events = new OrderEvents(app, 'OrderEvents');
new OrderPipeline(app, 'OrderPipeline', { topic: events.topic, ledger: events.ledger });
app.synth();
