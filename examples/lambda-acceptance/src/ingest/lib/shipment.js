'use strict';

exports.describe = (shipment) => `${shipment.id} to ${shipment.to || 'nowhere'}`;
