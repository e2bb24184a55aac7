"""Health-habit, money and pet-care dialogues for the embedded default dataset.

Format (parsed by :func:`rlhf_text.default_data.parse_dialogues`): ``@ topic | phrase`` starts a
topic (the phrase completes "a question about ..."); ``how:``, ``what:`` and ``why:`` lines give
a subject that question templates turn into prompts; ``ask:`` lines give literal questions
separated by ``|``; each ``=`` line is one chosen answer; an indented line continues the line
above.
"""

DIALOGUES = """
@ health | staying healthy
how: sleep better at night
= Go to bed at the same time every day, keep the room dark and cool, and avoid screens and
  caffeine in the evening.
= Keep a regular schedule, stop using phones an hour before bed, and skip coffee after lunch.
how: drink more water
= Keep a water bottle with you, drink a glass with every meal, and add lemon or fruit if you
  like some flavor.
= Carry a bottle, set small goals like one glass every two hours, and drink a glass when you
  wake up.
how: start running as a beginner
= Begin with short walk and run intervals three times a week, go at an easy pace where you can
  talk, and add time slowly.
= Start with twenty minutes that mix one minute of running and two of walking, and increase the
  running part each week.
how: reduce stress
= Take regular walks, breathe slowly for a few minutes, sleep enough, and talk with friends or
  family about what worries you.
= Exercise, slow deep breathing and good sleep all help; writing down your worries can make them
  feel smaller.
how: eat more vegetables
= Add a vegetable to every meal, keep cut vegetables ready for snacks, and fill half your plate
  with them at dinner.
= Put spinach in eggs or smoothies, snack on carrots, and roast a large tray of mixed vegetables
  each week.
how: improve my posture
= Keep your screen at eye level, sit with your back against the chair and feet flat, and stand
  up to stretch every half hour.
= Strengthen your back and core, set your desk so your shoulders relax, and take short breaks to
  move.
why: sleep is important
= During sleep the body repairs itself and the brain stores memories; too little sleep hurts
  mood, focus and health.
= Sleep restores energy, supports the immune system and helps you learn, so adults need about
  seven to nine hours.
why: stretching helps the body
= Stretching keeps muscles flexible and joints moving freely, which can reduce stiffness and
  make daily movement easier.
= It improves your range of motion and eases tight muscles, especially after sitting for a long
  time.
what: a balanced diet
= A balanced diet includes vegetables, fruit, whole grains, protein and healthy fats in
  reasonable amounts, with little added sugar.
= It means eating a variety of foods from each group, like greens, beans, fish, grains and
  fruit, in sensible portions.
what: dietary fiber
= Fiber is the part of plant foods the body cannot digest; it helps digestion, keeps you full,
  and is found in beans, oats and vegetables.
= It is a plant nutrient in whole grains, fruit and beans that supports healthy digestion and
  steady blood sugar.
how: stop snacking late at night
= Eat a filling dinner with protein, brush your teeth after it, and keep tempting snacks out of
  the house.
= Plan a proper evening meal, find another routine like tea or reading, and do not keep sweets
  in easy reach.
how: protect my eyes when using a computer
= Every twenty minutes, look at something far away for about twenty seconds, and keep the screen
  an arm's length from you.
= Take short breaks to look into the distance, set the screen a little below eye level, and
  reduce glare from windows.
ask: How much exercise do I need each week? | How often should adults exercise?
= Adults should aim for about 150 minutes of moderate activity a week, like brisk walking, plus
  muscle training twice a week.
= Try for thirty minutes of brisk activity on most days and some strength work, such as push ups
  or weights, two days a week.
how: wash my hands properly
= Wet your hands, rub them with soap for at least twenty seconds, including the backs, thumbs
  and nails, then rinse and dry.
= Use soap and warm water, scrub every part for about twenty seconds, rinse well, and dry with a
  clean towel.
how: build a morning routine
= Wake up at a steady time, drink water, move your body for ten minutes, and eat a simple
  breakfast before checking your phone.
= Keep it short: get up at the same hour, stretch, eat breakfast, and plan the three main tasks
  of your day.
why: too much sugar is bad for you
= Too much added sugar adds empty calories, raises the risk of weight gain, diabetes and tooth
  decay, and causes energy crashes.
= Extra sugar gives energy without nutrients, harms teeth, and over time makes weight gain and
  type 2 diabetes more likely.
how: take care of my teeth
= Brush twice a day for two minutes with fluoride toothpaste, floss daily, limit sugary drinks,
  and see a dentist regularly.
= Brush morning and night, clean between your teeth every day, and get a dental check up about
  once a year.
ask: What is a healthy resting heart rate? | Is my resting heart rate of 70 normal?
= For most adults a resting heart rate between 60 and 100 beats per minute is normal, so 70 is
  fine; fit people are often lower.
= Normal is about 60 to 100 beats per minute at rest, and regular exercise tends to bring it
  down.
how: stay healthy in cold weather
= Dress in layers, wash your hands often, keep moving, sleep well, and eat plenty of fruit and
  vegetables.
= Keep warm with layers and a hat, stay active indoors, and get a flu shot if your doctor
  advises it.
how: stop sitting all day at work
= Stand up every thirty minutes, take calls while walking, use the stairs, and walk during your
  lunch break.
= Set a timer to move each half hour, try a standing desk for part of the day, and take short
  walks between tasks.

@ money | money
how: make a budget
= List your monthly income, write down fixed costs like rent, set limits for food and fun, and
  track spending every week.
= Add up what you earn, subtract bills and savings first, then split the rest into categories
  and check them each month.
how: save money on groceries
= Plan meals, shop with a list, buy store brands and seasonal produce, and never shop when you
  are hungry.
= Make a weekly menu, compare unit prices, buy staples in bulk, and use leftovers before buying
  more.
how: start an emergency fund
= Open a separate savings account, set up an automatic transfer each payday, and aim for three
  to six months of expenses.
= Begin with a small goal such as one month of costs, save a fixed amount every payday, and only
  touch it for real emergencies.
what: compound interest
= Compound interest is interest earned on both your savings and the interest already added, so
  money grows faster over time.
= It means your interest also earns interest; the longer you leave money invested, the faster it
  grows.
what: an index fund
= An index fund buys all the stocks in a market index, such as the largest companies in a
  country, giving wide spread at a low fee.
= It is a low cost fund that simply follows a market index, so you own a small piece of many
  companies at once.
what: a credit score
= A credit score is a number that shows lenders how reliably you repay debt; paying bills on
  time raises it.
= It is a rating of your borrowing history, based on things like on time payments and how much
  of your credit you use.
how: pay off credit card debt
= List your cards, pay the minimum on all of them, and put every extra dollar toward the card
  with the highest interest rate.
= Stop adding new charges, pay more than the minimum each month, and focus on the highest
  interest balance first.
how: improve my credit score
= Pay every bill on time, keep your card balances low compared with your limits, and avoid
  opening many new accounts at once.
= Make payments on time, use less than a third of your credit limit, and check your report for
  errors.
why: diversification is important when investing
= Spreading money across many investments means one bad company or sector cannot wipe out your
  savings.
= Owning many different assets lowers risk, because losses in one area are often balanced by
  gains in another.
how: save for retirement
= Start early, contribute to a retirement account at work, take any employer match, and invest
  in low cost diversified funds.
= Put a fixed share of each paycheck, like ten percent, into a retirement plan and increase it
  when your income grows.
ask: Should I rent or buy a home? | Is it better to rent or to buy a house?
= Buying makes sense if you plan to stay five years or more and have a down payment; renting is
  more flexible and has fewer costs.
= Compare the total monthly cost, including taxes and repairs, and buy only if you will stay for
  years and have savings left over.
how: stop impulse buying
= Wait a full day before buying anything you did not plan, remove saved cards from shopping
  sites, and unsubscribe from sales emails.
= Make a rule to sleep on every unplanned purchase, shop with a list, and keep your card details
  out of online stores.
what: inflation
= Inflation is the general rise in prices over time, which means the same amount of money buys
  less than before.
= It is when prices across the economy go up, so each dollar loses some of its buying power.
how: teach kids about money
= Give a small allowance, let them split it into spend, save and share jars, and talk about
  prices when you shop together.
= Let children manage a little money, set a savings goal for a toy, and show them how you
  compare prices.
how: lower my monthly bills
= Cancel subscriptions you do not use, call your phone and internet providers to ask for a
  better rate, and compare insurance every year.
= Review each bill, drop unused services, switch to cheaper plans, and use less heat and power
  at home.
what: a stock
= A stock is a small share of ownership in a company; its value rises and falls with how the
  company and market do.
= Owning a stock means you own a piece of a business and may earn money from price gains or
  dividends.
ask: Why do I need an emergency fund? | Is an emergency fund really necessary?
= It covers surprise costs like car repairs or a job loss without forcing you into high interest
  debt.
= Savings set aside for emergencies let you handle sudden expenses calmly instead of borrowing
  on a credit card.
how: negotiate a higher salary
= Research typical pay for your role, list your results, ask for a specific number a little
  above your goal, and stay calm and polite.
= Come with market data and examples of your work, name a clear figure, and be ready to discuss
  benefits as well as pay.
how: avoid money scams
= Never share passwords or codes, be wary of anyone who rushes you to pay, and check a caller by
  phoning the company yourself.
= Be suspicious of offers that sound too good, do not pay with gift cards, and verify requests
  through official contact details.
what: a down payment
= A down payment is the part of a home price you pay up front in cash; the rest is covered by a
  mortgage loan.
= It is the first lump sum you pay when buying a house or car, often ten to twenty percent of
  the price.

@ pets | my pets
how: train a puppy to sit
= Hold a treat above its nose and move it back over its head; when its bottom touches the floor,
  say sit and give the treat.
= Use a small treat to guide the head up and back until it sits, then reward and praise it, and
  practice a few times a day.
how: house train a dog
= Take the dog outside after meals, naps and play, praise it right after it goes, and keep a
  regular feeding schedule.
= Go out at the same times each day, reward it outside every time, and clean indoor accidents
  without scolding.
how: tell if my cat is sick
= Watch for changes in eating, hiding, vomiting, weight loss or litter box habits, and call a
  vet if they last more than a day.
= A sick cat often eats less, sleeps more, hides, or stops grooming; any big change in behavior
  is worth a vet visit.
how: introduce a new cat to my home
= Keep it in one quiet room with food, water and a litter box for a few days, then let it
  explore the rest of the house slowly.
= Start with a single safe room, swap bedding so the pets learn each other's smell, and let them
  meet gradually.
how: keep a fish tank clean
= Change about a quarter of the water every week, rinse the filter in old tank water, and do not
  overfeed the fish.
= Do small weekly water changes, clean the glass, and feed only what the fish finish in two
  minutes.
ask: How often should I feed my dog? | How many meals a day does a dog need?
= Most adult dogs do well with two meals a day about twelve hours apart; puppies need three or
  four smaller meals.
= Feed an adult dog twice a day at regular times, using the amount on the food label for its
  weight.
ask: How often should I walk my dog? | How much exercise does a dog need?
= Most dogs need at least one or two walks a day, about thirty to sixty minutes in total, and
  active breeds need more.
= Plan daily walks and play, from thirty minutes for calm dogs to two hours for working breeds
  like collies.
why: cats purr
= Cats purr when they are relaxed and content, but also when hurt or stressed, since purring
  seems to calm them.
= Purring is a way cats signal comfort, and they also purr to soothe themselves when they feel
  ill or afraid.
why: dogs eat grass
= Many dogs eat grass simply because they like the taste or are bored; a little is usually
  harmless.
= It is often normal behavior from boredom or curiosity, but frequent grass eating with vomiting
  should be checked by a vet.
how: trim my dog's nails
= Use sharp dog clippers, cut a little at a time, avoid the pink quick inside the nail, and
  reward your dog with treats.
= Hold the paw gently, clip only the tip at an angle, and stop before the quick; a nail file can
  smooth the edges.
ask: What is a good first pet for a child? | Which pet is best for a young child?
= A guinea pig or a fish is a good first pet; they are gentle, simple to care for, and teach
  kids daily responsibility.
= Guinea pigs are friendly and sturdy, and goldfish are easy, but an adult should still help
  with care.
how: stop my cat from scratching furniture
= Give it a tall, sturdy scratching post near the furniture, reward it for using the post, and
  cover the sofa with a throw for a while.
= Place scratching posts where it likes to scratch, rub catnip on them, and trim its claws
  regularly.
how: take care of a rabbit
= Give it unlimited hay, fresh greens every day, a large space to hop, and a friend or daily
  time with you.
= Rabbits need mostly hay, clean water, room to run, chew toys, and a litter box that you clean
  often.
how: keep my dog calm during fireworks
= Keep it indoors with curtains closed, play soft music, give it a quiet den, and stay calm
  yourself.
= Walk it before dark, shut the windows, offer a cozy hiding place, and use a chew toy to
  distract it.
ask: Why does my dog bark so much? | How can I get my dog to stop barking all the time?
= Dogs bark from boredom, fear, excitement or to warn you; more exercise and training a quiet
  command usually help.
= Barking often means a need is not met, such as exercise, company or play; find the cause and
  reward quiet moments.
ask: What should I feed my cat? | What is a healthy diet for a cat?
= Cats need a meat based diet high in protein, such as quality wet or dry cat food, and always
  fresh water.
= A good cat diet is complete cat food made mostly from meat, with fresh water and only a few
  treats.
how: brush my cat's teeth
= Use a cat toothbrush and cat toothpaste, start by letting it lick the paste, and brush a few
  teeth at a time in short sessions.
= Go slowly over several days, first with a finger and pet toothpaste, then with a soft brush on
  the outer sides of the teeth.
ask: What should I feed a pet hamster? | What do hamsters eat?
= Feed a hamster a quality pellet mix, small pieces of fresh vegetables, and a little fruit or
  boiled egg now and then.
= Hamsters eat seeds, grains and pellets, plus small bits of carrot, broccoli or apple, with
  fresh water every day.
how: help my dog lose weight
= Measure its food, cut back on treats, swap some food for green beans, and add an extra daily
  walk.
= Feed exact portions, use low calorie treats, and increase walks and play a little each week.
how: travel by car with a cat
= Put the cat in a secure carrier, cover it with a light towel, keep the car quiet and cool, and
  take breaks on long trips.
= Get the cat used to the carrier at home first, line it with a blanket, and never let it roam
  free in the car.
"""
