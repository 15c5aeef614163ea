/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ncfm.h: the one header of libncfm-1.0. */
#ifndef NCFM_H
#define NCFM_H

#include "ncfm-dtype.h"
#include "ncfm-device.h"
#include "ncfm-safetensors.h"
#include "ncfm-tensor.h"
#include "ncfm-activations.h"
#include "ncfm-model.h"
#include "ncfm-convnet.h"
#include "ncfm-resnet.h"
#include "ncfm-cf.h"
#include "ncfm-ncfd.h"
#include "ncfm-sampler.h"
#include "ncfm-augment.h"
#include "ncfm-dataset.h"
#include "ncfm-loader.h"
#include "ncfm-multiformation.h"
#include "ncfm-synset.h"
#include "ncfm-reservoir.h"
#include "ncfm-labeller.h"
#include "ncfm-ops.h"
#include "ncfm-optimizer.h"
#include "ncfm-trainer.h"
#include "ncfm-frames.h"
#include "ncfm-comm.h"
#include "ncfm-synset-shard.h"
#include "ncfm-shard.h"
#include "ncfm-distiller.h"
#include "ncfm-data-parallel.h"

#endif
