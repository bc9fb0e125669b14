import GSLKit
